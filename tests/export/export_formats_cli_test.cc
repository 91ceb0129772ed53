// envforge export --format verl|hf|openai-sft (and jsonl through the same registry), run as
// the real executable on corpora built through the Corpus API; the verl parquet is read back
// by hyparquet.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "data/corpus.h"
#include "data/export/export_format.h"
#include "tests/data/sample_items.h"
#include "tests/export/export_test_util.h"

namespace envforge::cli {
namespace {

using data::testing::read_bytes;
using data::testing::TempDir;
using exports_testing::read_parquet;
using exports_testing::Run;
using nlohmann::json;

Run envforge(const std::string& args, const TempDir& dir) {
  return exports_testing::run_command(std::string(ENVFORGE_BIN) + " " + args, dir.file("stderr.txt"));
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

// A solver's passing attempt as the agent loop records it: a tool call, its result, then
// the final-answer tool.
json passing_trajectory(const std::string& prompt) {
  return {{"backend", "scripted"},
          {"messages",
           {{{"role", "system"}, {"content", "You plan trips."}},
            {{"role", "user"}, {"content", prompt}},
            {{"role", "assistant"},
             {"content", ""},
             {"reasoning", "look first"},
             {"tool_calls", {{{"id", "c1"}, {"name", "tool_0"}, {"arguments", {{"city", "Zürich"}}}}}}},
            {{"role", "tool"}, {"tool_call_id", "c1"}, {"name", "tool_0"}, {"content", "{\"tool\": 0}"}},
            {{"role", "assistant"},
             {"content", "done"},
             {"tool_calls", {{{"id", ""}, {"name", "submit_answer"}, {"arguments", {{"answer", {{"days", 1}}}}}}}}}}},
          {"verdict", {{"pass", true}}}};
}

// Three environments (trip, search, code); item 1's tools get an extra tool so tool sets
// differ; every task gets one failing and one passing rollout, one task a garbage one.
std::string make_corpus(const TempDir& dir, int* tasks, int* usable) {
  std::string path = dir.file("corpus.db");
  data::Corpus c = data::Corpus::open(path);
  *tasks = *usable = 0;
  for (int i = 0; i < 3; ++i) {
    auto item = data::sample::make_work_item(i);
    if (i == 1) {
      auto extra = item.environment.tools[0];
      extra.name = "lookup_ünïcode";
      extra.schema["function"]["name"] = extra.name;
      item.environment.tools.push_back(extra);
    }
    if (i == 2) item.tasks[0].prompt = std::string(300000, 'p') + " 日本語 \"q\" \n end";
    for (auto& t : item.tasks) {
      data::RolloutRecord fail;
      fail.model = "m";
      fail.attempt = 0;
      fail.trajectory = passing_trajectory(t.prompt);
      fail.passed = false;
      data::RolloutRecord pass = fail;
      pass.attempt = 1;
      pass.passed = true;
      pass.reward = 1;
      t.rollouts = {fail, pass};
      ++*tasks;
      *usable += t.status == data::TaskStatus::kUsable;
    }
    data::RolloutRecord garbage;
    garbage.model = "m";
    garbage.attempt = 2;
    garbage.passed = true;
    garbage.trajectory = {{"messages", {{{"content", "no role"}}}}};
    item.tasks[1].rollouts.push_back(garbage);
    c.record_work_item(item);
  }
  return path;
}

TEST(ExportFormats, RegistryListsEveryFormatOnce) {
  std::set<std::string> names;
  for (const auto& f : data::exports::export_formats()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_EQ(f.extension.front(), '.');
    EXPECT_NE(f.make, nullptr);
  }
  EXPECT_EQ(names, (std::set<std::string>{"jsonl", "verl", "hf", "openai-sft"}));
  EXPECT_EQ(data::exports::find_export_format("parquet"), nullptr);
}

TEST(ExportVerl, ParquetHasEveryTrainersColumnsAndToolConfig) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  int tasks = 0, usable = 0;
  std::string corpus = make_corpus(dir, &tasks, &usable);
  std::string out = dir.file("train.parquet"), yaml = dir.file("tools.yaml");
  auto r = envforge("export --corpus " + corpus + " --format verl --out " + out + " --tool-config " + yaml +
                        " --server-url http://10.0.0.5:8123 --split test",
                    dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("exported 18 record(s) of 18 task(s) as verl"), std::string::npos) << r.err;
  json back = read_parquet(out);
  ASSERT_EQ(back["num_rows"], tasks);
  for (const char* col : {"data_source", "prompt", "ability", "reward_model", "extra_info", "agent_name", "env_class",
                          "reward_spec", "answer", "info", "example_id", "task_id"})
    EXPECT_TRUE(back["rows"][0].contains(col)) << col;
  std::set<std::string> ids;
  data::Corpus c = data::Corpus::open(corpus);
  for (size_t i = 0; i < back["rows"].size(); ++i) {
    const json& row = back["rows"][i];
    ids.insert(row["task_id"].get<std::string>());
    auto task = c.task(row["task_id"], false);
    ASSERT_TRUE(task) << row["task_id"];
    EXPECT_EQ(row["data_source"], "envforge/" + row["category"].get<std::string>());
    ASSERT_EQ(row["prompt"].size(), 2u);
    EXPECT_EQ(row["prompt"][0]["role"], "system");
    EXPECT_EQ(row["prompt"][1], json({{"role", "user"}, {"content", task->prompt}}));
    EXPECT_EQ(json::parse(row["reward_model"]["ground_truth"].get<std::string>()), task->reference_solution);
    EXPECT_EQ(row["reward_model"]["style"], "rule");
    EXPECT_EQ(row["reward_spec"]["ground_truth"], row["reward_model"]["ground_truth"]);
    EXPECT_EQ(row["answer"], row["reward_model"]["ground_truth"]);
    EXPECT_EQ(row["env_class"], "envforge");
    EXPECT_EQ(row["agent_name"], "tool_agent");
    const json& extra = row["extra_info"];
    EXPECT_EQ(extra["split"], "test");
    EXPECT_EQ(extra["index"], static_cast<int64_t>(i));
    EXPECT_EQ(row["example_id"], static_cast<int64_t>(i));
    EXPECT_EQ(extra["task_id"], row["task_id"]);
    EXPECT_EQ(extra["interaction_kwargs"], json({{"name", "envforge"}, {"task_id", row["task_id"]}}));
    // Every tool name of the export, each pointing at this row's task.
    ASSERT_EQ(extra["tools_kwargs"].size(), 10u);  // tool_0..7, lookup_ünïcode, submit
    for (const auto& [name, kw] : extra["tools_kwargs"].items())
      EXPECT_EQ(kw, json({{"create_kwargs", {{"task_id", row["task_id"]}}}})) << name;
    json info = json::parse(row["info"].get<std::string>());
    EXPECT_EQ(info["task_id"], row["task_id"]);
    std::set<std::string> offered;
    for (const auto& t : info["tool_defs"]) offered.insert(t["function"]["name"]);
    EXPECT_TRUE(offered.count("submit"));
    EXPECT_EQ(offered.count("lookup_ünïcode"), row["category"] == "search" ? 1u : 0u);
    EXPECT_EQ(offered.size(), row["category"] == "search" ? 10u : 9u);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(tasks));
  // The 300 KB prompt arrives whole.
  bool found_huge = false;
  for (const auto& row : back["rows"])
    found_huge |= row["prompt"][1]["content"].get<std::string>().size() > 300000;
  EXPECT_TRUE(found_huge);

  std::string text = read_bytes(yaml);
  EXPECT_EQ(text.find("tools:\n"), text.find("tools:"));
  size_t entries = 0;
  for (size_t p = text.find("class_name: envforge_client.verl_tool.EnvforgeTool"); p != std::string::npos;
       p = text.find("class_name: envforge_client.verl_tool.EnvforgeTool", p + 1))
    ++entries;
  EXPECT_EQ(entries, 10u);
  EXPECT_NE(text.find("server_url: \"http://10.0.0.5:8123\""), std::string::npos) << text;
  EXPECT_NE(text.find("type: native"), std::string::npos);
  // Where PyYAML is installed, the file is checked as YAML too.
  auto py = exports_testing::run_command(
      "$(command -v /usr/bin/python3 || command -v python3) -c \"import sys, json\ntry:\n import yaml\nexcept ImportError:\n print('no-yaml'); sys.exit(0)\n"
      "d = yaml.safe_load(open(sys.argv[1]))\nprint(json.dumps(d))\" " + yaml,
      dir.file("py.err"));
  ASSERT_EQ(py.exit_code, 0) << py.err;
  if (py.out.rfind("no-yaml", 0) != 0) {
    json cfg = json::parse(py.out);
    ASSERT_EQ(cfg["tools"].size(), 10u);
    for (const auto& t : cfg["tools"]) {
      EXPECT_EQ(t["class_name"], "envforge_client.verl_tool.EnvforgeTool");
      EXPECT_EQ(t["config"]["type"], "native");
      EXPECT_EQ(t["config"]["server_url"], "http://10.0.0.5:8123");
      EXPECT_EQ(t["tool_schema"]["type"], "function");
      EXPECT_EQ(t["tool_schema"]["function"]["parameters"]["type"], "object");
    }
    // One config serves every task: its submit takes any answer.
    EXPECT_EQ(cfg["tools"].back()["tool_schema"]["function"]["name"], "submit");
    EXPECT_EQ(cfg["tools"].back()["tool_schema"]["function"]["parameters"]["properties"]["answer"], json::object());
  }
}

TEST(ExportVerl, FiltersAndZeroRows) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  int tasks = 0, usable = 0;
  std::string corpus = make_corpus(dir, &tasks, &usable);
  std::string out = dir.file("u.parquet");
  ASSERT_EQ(envforge("export --corpus " + corpus + " --format verl --usable-only --out " + out, dir).exit_code, 0);
  EXPECT_EQ(read_parquet(out)["num_rows"], usable);
  std::string none = dir.file("none.parquet"), yaml = dir.file("none.yaml");
  auto r = envforge("export --corpus " + corpus + " --format verl --category nosuch --out " + none +
                        " --tool-config " + yaml,
                    dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json back = read_parquet(none);
  EXPECT_EQ(back["num_rows"], 0);
  EXPECT_EQ(back["rows"], json::array());
  EXPECT_NE(std::find(back["schema"].begin(), back["schema"].end(), "reward_model"), back["schema"].end());
  EXPECT_EQ(read_bytes(yaml).find("tools: []"), read_bytes(yaml).find("tools:"));
}

TEST(ExportHf, PromptIsChatAndColumnsReachRewardFunctions) {
  TempDir dir;
  int tasks = 0, usable = 0;
  std::string corpus = make_corpus(dir, &tasks, &usable);
  auto r = envforge("export --corpus " + corpus + " --format hf --out -", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), static_cast<size_t>(tasks));
  data::Corpus c = data::Corpus::open(corpus);
  for (const auto& l : lines) {
    auto task = c.task(l["task_id"], false);
    ASSERT_TRUE(task);
    EXPECT_EQ(l["prompt"].back(), json({{"role", "user"}, {"content", task->prompt}}));
    EXPECT_EQ(l["prompt"][0]["role"], "system");
    EXPECT_EQ(json::parse(l["answer"].get<std::string>()), task->reference_solution);
    EXPECT_EQ(l["difficulty"], task->difficulty);
    EXPECT_EQ(l["environment_id"], task->environment_id);
    json tools = json::parse(l["tool_defs"].get<std::string>());
    EXPECT_EQ(tools.back()["function"]["name"], "submit");
    EXPECT_EQ(tools.back()["function"]["parameters"]["properties"]["answer"], task->answer_schema);
    for (const char* key : {"prompt", "task_id", "environment_id", "category", "difficulty", "data_source", "answer",
                            "tool_defs"})
      EXPECT_TRUE(l.contains(key)) << key;
    EXPECT_EQ(l.size(), 8u) << l.dump();
  }
}

TEST(ExportOpenAiSft, PassingRolloutsBecomeChatExamplesWithTools) {
  TempDir dir;
  int tasks = 0, usable = 0;
  std::string corpus = make_corpus(dir, &tasks, &usable);
  std::string out = dir.file("sft.jsonl");
  auto r = envforge("export --corpus " + corpus + " --format openai-sft --out " + out, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One passing attempt per task; the garbage trajectories (one per environment) are skipped
  // with a warning.
  EXPECT_NE(r.err.find("exported 18 record(s) of 18 task(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped 3 passing rollout(s)"), std::string::npos) << r.err;
  auto lines = json_lines(read_bytes(out));
  ASSERT_EQ(lines.size(), 18u);
  for (const auto& l : lines) {
    ASSERT_EQ(l.size(), 2u) << l.dump();  // exactly {messages, tools}
    const json& m = l["messages"];
    ASSERT_EQ(m.size(), 5u);
    EXPECT_EQ(m[0], json({{"role", "system"}, {"content", "You plan trips."}}));
    EXPECT_EQ(m[1]["role"], "user");
    EXPECT_FALSE(m[2].contains("reasoning"));
    EXPECT_EQ(m[2]["tool_calls"][0],
              json({{"id", "c1"}, {"type", "function"},
                    {"function", {{"name", "tool_0"}, {"arguments", "{\"city\":\"Zürich\"}"}}}}));
    EXPECT_EQ(m[3], json({{"role", "tool"}, {"content", "{\"tool\": 0}"}, {"tool_call_id", "c1"}}));
    EXPECT_EQ(m[4]["tool_calls"][0]["id"], "call_0");  // generated for an empty id
    EXPECT_EQ(m[4]["tool_calls"][0]["function"]["name"], "submit_answer");
    const json& tools = l["tools"];
    EXPECT_EQ(tools.back()["function"]["name"], "submit_answer");
    EXPECT_EQ(tools.back()["function"]["parameters"]["required"], json({"answer"}));
    EXPECT_GE(tools.size(), 9u);
  }
}

TEST(ExportOpenAiSft, NoPassingRolloutsIsAnEmptyFile) {
  TempDir dir;
  std::string corpus = dir.file("c.db");
  {
    data::Corpus c = data::Corpus::open(corpus);
    c.record_work_item(data::sample::make_work_item(0));  // no rollouts
  }
  std::string out = dir.file("sft.jsonl");
  auto r = envforge("export --corpus " + corpus + " --format openai-sft --out " + out, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_bytes(out), "");
}

TEST(ExportCli, FormatErrorsAreClearAndLeaveNoFile) {
  TempDir dir;
  int tasks = 0, usable = 0;
  std::string corpus = make_corpus(dir, &tasks, &usable);
  std::string out = dir.file("x.out");
  auto bad = envforge("export --corpus " + corpus + " --format parquet --out " + out, dir);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("unknown format 'parquet' (jsonl, verl, hf, openai-sft)"), std::string::npos) << bad.err;
  auto cfg = envforge("export --corpus " + corpus + " --format hf --tool-config t.yaml --out " + out, dir);
  EXPECT_EQ(cfg.exit_code, 2);
  EXPECT_NE(cfg.err.find("--tool-config is only for --format verl"), std::string::npos) << cfg.err;
  auto rollouts = envforge("export --corpus " + corpus + " --format verl --with-rollouts --out " + out, dir);
  EXPECT_EQ(rollouts.exit_code, 2);
  auto missing = envforge("export --corpus " + dir.file("nope.db") + " --format verl --out " + out, dir);
  EXPECT_EQ(missing.exit_code, 1);
  auto unwritable = envforge("export --corpus " + corpus + " --format verl --out " + dir.file("no/dir/x.parquet"), dir);
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("cannot write"), std::string::npos) << unwritable.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
  auto help = envforge("export --help", dir);
  EXPECT_NE(help.out.find("jsonl, verl, hf, openai-sft"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace envforge::cli
