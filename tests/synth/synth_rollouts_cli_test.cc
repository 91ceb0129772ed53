// `envforge synth --solver ... --rollouts K` through the real binary, the real sandbox and a
// real corpus: a scripted solver attempts trip tasks through their tools, each answer is
// judged by the task's verify.py, rollouts and pass@k land with the task, the keep policy
// sets task status, a killed run resumes without duplicates, bad specs are usage errors.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/content_id.h"
#include "data/corpus.h"
#include "tests/synth/cli_run.h"
#include "verifiers/python_runner.h"

namespace envforge::testing {
namespace {

using nlohmann::json;

// Looks around through a tool, then submits the task's reference answer.
const char* kRight = R"({"replies": [
  {"tool_calls": [{"name": "list_cities", "arguments": {}}], "usage": {"prompt_tokens": 900, "completion_tokens": 12}},
  {"tool_calls": [{"name": "submit_answer", "arguments": {"answer": "{{reference}}"}}]}]})";
// Answers in words: not what any task asks for.
const char* kWrong = R"({"replies": [{"content": "I could not work it out."}]})";

std::string mixed_script() { return std::string(R"({"attempts": [)") + kRight + "," + kWrong + "]}"; }

data::Corpus open_read_only(const std::string& path) {
  data::OpenOptions o;
  o.read_only = true;
  return data::Corpus::open(path, o);
}

std::vector<data::TaskRecord> all_tasks(const data::Corpus& corpus) {
  std::vector<std::string> ids;
  corpus.for_each_export_row({}, [&](const data::ExportRow& row) { ids.push_back(row.task.id); });
  std::vector<data::TaskRecord> tasks;
  for (const auto& id : ids) tasks.push_back(*corpus.task(id, true));
  return tasks;
}

std::vector<json> jsonl(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

size_t recorded_items(const std::string& path) {
  if (!std::filesystem::exists(path)) return 0;
  try {
    return open_read_only(path).work_item_keys().size();
  } catch (const std::exception&) {
    return 0;  // not created yet
  }
}

TEST(SynthRollouts, ScoredByTheTaskVerifierAndRecordedWithTheTask) {
  CliTempDir dir;
  const std::string db = dir.file("corpus.db"), script = dir.file("mixed.json");
  write_text_file(script, mixed_script());
  const auto r = run_envforge("synth --count 2 --seed 5 --jobs 2 --solver scripted:" + script +
                                  " --rollouts 2 --rollout-jobs 2 --quiet --json --out " + db,
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.out);
  const json& ro = s["rollouts"];
  EXPECT_EQ(ro["solver"], "scripted:" + script);
  EXPECT_EQ(ro["tasks"], 10);
  EXPECT_EQ(ro["attempts"], 20);
  EXPECT_EQ(ro["passes"], 10);
  EXPECT_EQ(ro["errors"], 0);
  EXPECT_EQ(ro["kept"], 10);
  EXPECT_EQ(ro["filtered"], 0);
  EXPECT_DOUBLE_EQ(ro["mean_pass_rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(ro["mean_pass_at"]["1"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(ro["mean_pass_at"]["2"].get<double>(), 1.0);
  EXPECT_EQ(s["usable"], 10);

  auto corpus = open_read_only(db);
  const auto tasks = all_tasks(corpus);
  ASSERT_EQ(tasks.size(), 10u);
  std::map<std::string, std::unique_ptr<verifiers::PythonSession>> sessions;  // per environment
  for (const auto& t : tasks) {
    ASSERT_EQ(t.status, data::TaskStatus::kUsable) << t.reject_reason;
    const json& m = t.metadata.at("rollouts");
    EXPECT_EQ(m["attempts"], 2);
    EXPECT_EQ(m["passes"], 1);
    EXPECT_DOUBLE_EQ(m["pass_rate"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(m["pass_at"]["1"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(m["pass_at"]["2"].get<double>(), 1.0);
    EXPECT_EQ(m["kept"], true);
    EXPECT_EQ(m["keep_band"], "(0, 1)");
    // The task's identity does not depend on what the solver did.
    data::TaskRecord bare = t;
    bare.metadata.erase("rollouts");
    bare.content_hash.clear();
    EXPECT_EQ(t.content_hash, data::task_content_hash(bare));

    ASSERT_EQ(t.rollouts.size(), 2u);
    const auto& right = t.rollouts[0];
    const auto& wrong = t.rollouts[1];
    EXPECT_EQ(right.model, "scripted:" + script);
    EXPECT_EQ(right.attempt, 0);
    EXPECT_EQ(wrong.attempt, 1);
    EXPECT_TRUE(right.passed) << right.trajectory["verdict"].dump();
    EXPECT_DOUBLE_EQ(right.reward, 1.0);
    EXPECT_EQ(right.trajectory["turns"][0]["prompt_tokens"], 900);
    EXPECT_GE(right.prompt_tokens, 900);
    EXPECT_GT(right.started_at_ms, 0);
    // The tool ran in the sandbox against the environment's world.
    const json& looked = right.trajectory["turns"][0]["tool_calls"][0];
    EXPECT_EQ(looked["name"], "list_cities");
    EXPECT_TRUE(looked["ok"].get<bool>()) << looked.dump();
    EXPECT_FALSE(wrong.passed);
    EXPECT_DOUBLE_EQ(wrong.reward, 0.0);
    EXPECT_EQ(wrong.trajectory["verdict"]["reason"].get<std::string>().rfind("malformed", 0), 0u)
        << wrong.trajectory["verdict"].dump();

    // Judge each recorded answer again with the task's verifier: the same verdict.
    auto& session = sessions[t.environment_id];
    if (!session) {
      const auto env = corpus.environment(t.environment_id);
      ASSERT_TRUE(env);
      const std::string world = dir.file(t.environment_id.substr(0, 12) + ".db");
      write_text_file(world, env->world_db);
      verifiers::PythonOptions po;
      po.files = {{"verify.py", t.verifier_code}};
      po.world_db = world;
      session = std::make_unique<verifiers::PythonSession>(po);
    }
    for (const auto& ro_rec : t.rollouts) {
      json answer = ro_rec.trajectory["final_answer"];
      if (answer.is_object() && answer.contains("answer")) answer = answer["answer"];
      const auto v = session->call("verify", "verify",
                                   {{"answer", answer}, {"world", std::string(verifiers::kWorldDbPath)},
                                    {"task", t.metadata["task"]}},
                                   std::chrono::seconds(20));
      ASSERT_TRUE(v.ok) << v.message;
      EXPECT_EQ(v.value["pass"], ro_rec.passed);
      EXPECT_DOUBLE_EQ(v.value["score"].get<double>(), ro_rec.reward);
      EXPECT_EQ(v.value["reason"], ro_rec.trajectory["verdict"]["reason"]);
    }
  }

  const auto a = run_envforge("audit --json --corpus " + db, dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const json audit = json::parse(a.out);
  EXPECT_EQ(audit["rollouts"], 20);
  const json& rs = audit["rollout_stats"];
  EXPECT_EQ(rs["tasks_with_rollouts"], 10);
  EXPECT_EQ(rs["scored_tasks"], 10);
  EXPECT_DOUBLE_EQ(rs["mean_pass_rate"].get<double>(), 0.5);
  EXPECT_EQ(rs["kept_by_policy"], 10);
  EXPECT_EQ(rs["filtered_by_policy"], 0);
  EXPECT_EQ(rs["rollouts_by_model"]["scripted:" + script], 20);
  const auto text = run_envforge("audit --corpus " + db, dir);
  EXPECT_NE(text.out.find("10 task(s) with rollouts, mean pass rate 0.500"), std::string::npos) << text.out;

  const auto e = run_envforge("export --corpus " + db + " --out -", dir);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto lines = jsonl(e.out);
  ASSERT_EQ(lines.size(), 10u);
  for (const auto& line : lines) {
    EXPECT_DOUBLE_EQ(line["rollouts"]["pass_rate"].get<double>(), 0.5);
    EXPECT_FALSE(line.contains("rollout_records")) << "trajectories only when asked for";
  }
  const auto full = run_envforge("export --with-rollouts --corpus " + db + " --out -", dir);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  for (const auto& line : jsonl(full.out)) {
    ASSERT_EQ(line["rollout_records"].size(), 2u);
    EXPECT_EQ(line["rollout_records"][0]["passed"], true);
    EXPECT_FALSE(line["rollout_records"][0]["trajectory"]["messages"].empty());
  }
}

TEST(SynthRollouts, KeepPolicySetsStatusAsConfigured) {
  CliTempDir dir;
  const std::string right = dir.file("right.json"), mixed = dir.file("mixed.json");
  write_text_file(right, kRight);
  write_text_file(mixed, mixed_script());
  struct Case {
    std::string name, args;
    int usable;
    std::string reason;  // of the filtered tasks
  };
  for (const Case& c : std::vector<Case>{
           // Always solved: outside the default band (0, 1).
           {"default", "--solver scripted:" + right + " --rollouts 2", 0, "keep policy: pass rate 1.00 outside (0, 1)"},
           {"inclusive", "--solver scripted:" + right + " --rollouts 2 --keep-inclusive", 5, ""},
           // Solved half of the time.
           {"above", "--solver scripted:" + mixed + " --rollouts 4 --keep-min-pass-rate 0.6 --keep-inclusive", 0,
            "keep policy: pass rate 0.50 outside [0.6, 1]"},
           {"within", "--solver scripted:" + mixed + " --rollouts 4 --keep-min-pass-rate 0.5 --keep-inclusive", 5,
            ""}}) {
    const std::string db = dir.file(c.name + ".db");
    const auto r = run_envforge("synth --count 1 --seed 5 --jobs 1 --rollout-jobs 2 --quiet --json " + c.args +
                                    " --out " + db,
                                dir);
    ASSERT_EQ(r.exit_code, 0) << c.name << ": " << r.err;
    const json s = json::parse(r.out);
    EXPECT_EQ(s["tasks"], 5) << c.name;
    EXPECT_EQ(s["usable"], c.usable) << c.name;
    EXPECT_EQ(s["rollouts"]["kept"], c.usable) << c.name;
    EXPECT_EQ(s["rollouts"]["filtered"], 5 - c.usable) << c.name;
    auto corpus = open_read_only(db);
    for (const auto& t : all_tasks(corpus)) {
      EXPECT_EQ(t.status == data::TaskStatus::kUsable, c.usable == 5) << c.name;
      EXPECT_EQ(t.reject_reason, c.reason) << c.name;
      EXPECT_EQ(t.metadata["rollouts"]["kept"], c.usable == 5) << c.name;
      EXPECT_FALSE(t.rollouts.empty()) << c.name << ": filtered tasks keep their rollouts";
    }
    const json audit = json::parse(run_envforge("audit --json --corpus " + db, dir).out);
    EXPECT_EQ(audit["rollout_stats"]["filtered_by_policy"], 5 - c.usable) << c.name;
    EXPECT_EQ(audit["rollout_stats"]["kept_by_policy"], c.usable) << c.name;
    EXPECT_EQ(audit["tasks"], 5) << c.name << ": nothing deleted";
    if (!c.reason.empty()) {
      EXPECT_EQ(audit["reject_reasons"][c.reason], 5) << c.name;
    }
  }
}

TEST(SynthRollouts, KilledThenResumedRecordsEachRolloutOnce) {
  CliTempDir dir;
  const std::string db = dir.file("corpus.db"), script = dir.file("mixed.json");
  write_text_file(script, mixed_script());
  const std::vector<std::string> job = {"--count", "3", "--seed", "11", "--jobs", "1", "--solver",
                                        "scripted:" + script, "--rollouts", "2", "--quiet", "--out", db};
  const pid_t pid = spawn_synth(job);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (recorded_items(db) < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  wait_exit(pid);
  const size_t before = recorded_items(db);
  EXPECT_GE(before, 1u);
  EXPECT_LT(before, 3u) << "killed too late to test resuming";
  ASSERT_EQ(wait_exit(spawn_synth(job)), 0);

  auto check = [&] {
    auto corpus = open_read_only(db);
    EXPECT_EQ(corpus.work_item_keys().size(), 3u);
    const auto tasks = all_tasks(corpus);
    EXPECT_EQ(tasks.size(), 15u);
    std::set<std::string> ids;
    for (const auto& t : tasks) {
      ASSERT_EQ(t.rollouts.size(), 2u) << t.id;
      EXPECT_EQ(t.rollouts[0].attempt, 0);
      EXPECT_EQ(t.rollouts[1].attempt, 1);
      for (const auto& r : t.rollouts) ids.insert(r.id);
    }
    EXPECT_EQ(ids.size(), 30u);
    EXPECT_EQ(corpus.audit_summary().rollouts, 30);
  };
  check();
  // Another rollout configuration: the recorded items are skipped, and the log says so.
  const auto again = run_envforge("synth --count 3 --seed 11 --jobs 1 --solver scripted:" + script +
                                      " --rollouts 3 --quiet --json --out " + db,
                                  dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const json s = json::parse(again.out);
  EXPECT_EQ(s["skipped"], 3);
  EXPECT_EQ(s["skipped_other_rollout_config"], 3);
  EXPECT_NE(again.err.find("keep what they were recorded with"), std::string::npos) << again.err;
  check();
}

TEST(SynthRollouts, BadSolverOrModelSettingsAreUsageErrors) {
  CliTempDir dir;
  const std::string right = dir.file("right.json"), bad = dir.file("bad.json");
  write_text_file(right, kRight);
  write_text_file(bad, R"({"replies": [{"content": "{{answer_key}}"}]})");
  const std::string db = dir.file("c.db");
  struct Case {
    std::string args;
    std::vector<std::string> mentions;
  };
  for (const Case& c : std::vector<Case>{
           {"--solver bogus", {"--solver", "bogus"}},
           {"--solver embedded:" + dir.file("no-checkpoint"), {"--solver", "no-checkpoint"}},
           {"--solver scripted:" + dir.file("missing.json"), {"--solver", "missing.json"}},
           {"--solver openai:ftp://host/v1#m", {"--solver", "http"}},
           {"--solver scripted:" + bad, {"--solver", "answer_key"}},
           {"--solver scripted:" + right + " --rollouts 0", {"--rollouts"}},
           {"--rollouts 3", {"--rollouts", "--solver"}},
           {"--solver scripted:" + right + " --keep-min-pass-rate 0.8 --keep-max-pass-rate 0.2", {"keep"}},
           {"--solver scripted:" + right + " --keep-max-pass-rate 1.5", {"--keep-max-pass-rate"}},
           {"--llm nonsense", {"--llm", "nonsense"}},
           {"--category authored", {"authored"}},
           {"--description-file " + dir.file("nope.txt"), {"--description-file", "nope.txt"}},
           {"--hardening-rounds -1", {"--hardening-rounds"}}}) {
    const auto r = run_envforge("synth --count 1 --quiet " + c.args + " --out " + db, dir);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    for (const auto& m : c.mentions) EXPECT_NE(r.err.find(m), std::string::npos) << c.args << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(db)) << "a usage error must not create the corpus";

  const auto help = run_envforge("synth --help", dir);
  EXPECT_EQ(help.exit_code, 0);
  for (const char* opt : {"--solver", "--rollouts", "--rollout-jobs", "--keep-min-pass-rate", "--keep-max-pass-rate",
                          "--keep-inclusive", "--llm", "--description-file", "--hardening-rounds", "always-solved"})
    EXPECT_NE(help.out.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace envforge::testing
