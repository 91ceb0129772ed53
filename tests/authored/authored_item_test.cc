// LLM-authored environments end to end: a scripted generator agent builds a library
// catalogue through real tool calls in the sandbox, envforge validates it there, asks for a
// harder variant, and the work item goes into a real corpus file and is read back.
#include "generators/authored/authored_item.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "agents/scripted_backend.h"
#include "data/content_id.h"
#include "data/corpus.h"
#include "generators/sandbox_python.h"
#include "library_script.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;
namespace t = testing;

class AuthoredItemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/envforge-authored-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // The sandbox may run boxes as another user: the world file must be readable by it.
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                           std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
    python_ = sandbox_python_factory();
    options_.description = "A library catalogue: authors, books, copies and loans.";
    options_.scratch_dir = dir_;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  data::WorkItem build(agents::ScriptedBackend& llm, uint64_t index = 0) {
    return build_work_item(llm, 7, index, options_, *python_, times_);
  }

  std::string dir_;
  std::unique_ptr<PythonExecutorFactory> python_;
  AuthoredOptions options_;
  StageTimes times_;
};

int count_books(const std::string& db_bytes, const std::string& path) {
  std::ofstream(path, std::ios::binary) << db_bytes;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM books", -1, &st, nullptr), SQLITE_OK);
  int n = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

std::set<std::string> checks_of(const data::TaskRecord& task, int attempt) {
  std::set<std::string> out;
  for (const auto& v : task.validations)
    if (v.attempt == attempt || v.check.rfind("tool:", 0) == 0) out.insert(v.check);
  return out;
}

// The content of the tool result messages the model was sent, in order.
std::vector<std::string> tool_results(const agents::ScriptedBackend& llm) {
  std::vector<std::string> out;
  auto requests = llm.requests();
  std::set<std::string> seen;
  for (const auto& r : requests)
    for (const auto& m : r.messages)
      if (m.role == "tool" && seen.insert(m.tool_call_id + "|" + m.content).second) out.push_back(m.content);
  return out;
}

TEST_F(AuthoredItemTest, ScriptedAgentBuildsAValidatedEnvironmentAndAHarderTask) {
  agents::ScriptedBackend llm(t::library_script(), "library");
  options_.hardening_rounds = 1;
  data::WorkItem item = build(llm);
  EXPECT_EQ(llm.replies_used(), llm.replies_total());
  EXPECT_EQ(item.key, data::work_item_key("authored", 7, 0, kGeneratorVersion));

  // The agent's tool calls really ran in the sandbox: the world was built there.
  const auto results = tool_results(llm);
  ASSERT_GE(results.size(), 8u);
  EXPECT_NE(results[0].find("books: 8"), std::string::npos) << results[0];
  EXPECT_NE(results[0].find("world.db"), std::string::npos) << results[0];
  EXPECT_NE(results[4].find("\\\"pass\\\": true"), std::string::npos) << results[4];  // verify probed in the box
  EXPECT_NE(results[5].find("[\"sf\",4]"), std::string::npos) << results[5];           // query_db
  EXPECT_NE(results[6].find("submission accepted"), std::string::npos) << results[6];

  ASSERT_EQ(item.tasks.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const data::TaskRecord& task = item.tasks[i];
    EXPECT_EQ(task.difficulty, i + 1);
    EXPECT_EQ(task.status, data::TaskStatus::kUsable) << task.reject_reason;
    for (const auto& v : task.validations) EXPECT_TRUE(v.as_expected) << v.check << " " << v.verdict << " " << v.reason;
    const std::set<std::string> want = {"reference", "negative:author:0", "negative:author:1", "negative:author:2",
                                        "negative:empty", "negative:null", "negative:empty_object",
                                        "negative:malformed_json", "negative:wrong_type", "tool:list_authors",
                                        "tool:search_books", "tool:get_book"};
    EXPECT_EQ(checks_of(task, 0), want);
    EXPECT_EQ(checks_of(task, 1), want);  // the repeat run covers every answer
  }
  EXPECT_EQ(item.tasks[0].verifier_code, t::kVerifyFirstPy);
  EXPECT_EQ(item.tasks[1].verifier_code, t::kVerifyHarderPy);
  EXPECT_EQ(item.tasks[1].reference_solution, json({{"book_id", "B01"}, {"available", 1}}));
  EXPECT_EQ(item.tasks[1].metadata["task"]["params"], json({{"country", "US"}, {"genre", "sf"}}));

  // The hardening round was asked with the previous task and its verdict.
  const auto requests = llm.requests();
  const std::string& hardening = requests[6].messages.at(1).content;
  EXPECT_NE(hardening.find("Round 2"), std::string::npos);
  EXPECT_NE(hardening.find("Stanislaw Lem"), std::string::npos);
  EXPECT_NE(hardening.find("passed validation"), std::string::npos);

  const data::EnvironmentRecord& env = item.environment;
  EXPECT_EQ(env.category, "authored");
  EXPECT_EQ(env.generator_version, kGeneratorVersion);
  EXPECT_EQ(env.tools_code, t::kToolsPy);
  EXPECT_EQ(env.system_prompt, t::first_submission()["solver_system_prompt"]);
  ASSERT_EQ(env.tools.size(), 3u);
  EXPECT_EQ(env.tools[2].name, "get_book");
  EXPECT_EQ(count_books(env.world_db, dir_ + "/check.db"), 8);
  const json& rounds = env.env_json["generator_agent"]["rounds"];
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0]["attempts"][0]["submitted"], true);
  EXPECT_EQ(rounds[1]["attempts"][0]["tool_calls"].size(), 3u);
  EXPECT_EQ(env.env_json["description"], options_.description);
  EXPECT_GT(times_.ms("world"), 0);
  EXPECT_GT(times_.ms("validate"), 0);

  // Into a real corpus file and back.
  const std::string path = dir_ + "/corpus.db";
  {
    data::Corpus corpus = data::Corpus::open(path);
    EXPECT_TRUE(corpus.record_work_item(item));
    EXPECT_FALSE(corpus.record_work_item(item));  // idempotent by key
  }
  data::OpenOptions read_only;
  read_only.read_only = true;
  data::Corpus corpus = data::Corpus::open(path, read_only);
  EXPECT_TRUE(corpus.has_work_item(item.key));
  const std::string env_id = data::environment_id(item.environment);
  auto stored = corpus.environment(env_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->world_db, env.world_db);
  EXPECT_EQ(stored->tools_code, env.tools_code);
  EXPECT_EQ(stored->env_json, env.env_json);
  auto tasks = corpus.tasks_of(env_id);
  ASSERT_EQ(tasks.size(), 2u);
  for (const auto& summary : tasks) {
    auto task = corpus.task(summary.id);
    ASSERT_TRUE(task.has_value());
    EXPECT_EQ(task->status, data::TaskStatus::kUsable);
    EXPECT_EQ(task->validations.size(), item.tasks[task->difficulty - 1].validations.size());
    EXPECT_EQ(task->prompt, item.tasks[task->difficulty - 1].prompt);
  }
}

TEST_F(AuthoredItemTest, VerifierThatAcceptsEverythingIsRejectedByTheNegatives) {
  agents::ScriptedBackend llm(t::library_script({.broken_verifier = true, .hardening = false}), "broken");
  options_.hardening_rounds = 0;
  data::WorkItem item = build(llm, 1);
  ASSERT_EQ(item.tasks.size(), 1u);
  const data::TaskRecord& task = item.tasks[0];
  EXPECT_EQ(task.status, data::TaskStatus::kRejected);
  EXPECT_EQ(task.reject_reason.rfind("negative:author:0: expected fail, got pass (looks fine)", 0), 0u)
      << task.reject_reason;
  EXPECT_NE(task.reject_reason.find("a later Lem book"), std::string::npos);
  int negatives = 0;
  for (const auto& v : task.validations) {
    if (v.check == "reference") {
      EXPECT_TRUE(v.as_expected);
    } else if (v.check.rfind("negative:", 0) == 0 && v.attempt == 0) {
      ++negatives;
      EXPECT_EQ(v.verdict, "pass") << v.check;
      EXPECT_FALSE(v.as_expected) << v.check;
    }
  }
  EXPECT_EQ(negatives, 3 + 5);  // the author's three and envforge's five generic ones for an object answer

  // Recorded as rejected with its reason, not lost.
  data::Corpus corpus = data::Corpus::open(dir_ + "/corpus.db");
  ASSERT_TRUE(corpus.record_work_item(item));
  const auto summary = corpus.audit_summary();
  EXPECT_EQ(summary.rejected, 1);
  EXPECT_EQ(summary.usable, 0);
  auto stored = corpus.tasks_of(data::environment_id(item.environment));
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].reject_reason, task.reject_reason);
}

TEST_F(AuthoredItemTest, HardeningRoundWithoutASubmissionIsRecordedAsRejected) {
  json script = t::library_script({.hardening = false});
  script["replies"].push_back(t::text("I would rather not."));
  script["replies"].push_back(t::call("run_bash", {{"script", "echo still thinking"}}));
  script["replies"].push_back(t::text("Nothing more to submit."));
  agents::ScriptedBackend llm(script, "lazy");
  options_.hardening_rounds = 1;
  data::WorkItem item = build(llm, 2);
  ASSERT_EQ(item.tasks.size(), 2u);
  EXPECT_EQ(item.tasks[0].status, data::TaskStatus::kUsable) << item.tasks[0].reject_reason;
  EXPECT_EQ(item.tasks[1].status, data::TaskStatus::kRejected);
  EXPECT_EQ(item.tasks[1].difficulty, 2);
  EXPECT_NE(item.tasks[1].reject_reason.find("no accepted submission"), std::string::npos) << item.tasks[1].reject_reason;
  EXPECT_NE(item.tasks[1].reject_reason.find("attempt 2"), std::string::npos) << item.tasks[1].reject_reason;
  // The second attempt was told the workspace is still there.
  const auto requests = llm.requests();
  EXPECT_NE(requests.back().messages.at(1).content.find("verify.py"), std::string::npos);
  data::Corpus corpus = data::Corpus::open(dir_ + "/corpus.db");
  EXPECT_TRUE(corpus.record_work_item(item));
  EXPECT_EQ(corpus.audit_summary().rejected, 1);
}

TEST_F(AuthoredItemTest, GarbageFromTheModelComesBackAsToolErrorsThenItGivesUp) {
  json replies = json::array();
  json malformed = {{"tool_calls", json::array({{{"name", "write_file"}, {"arguments", "{\"path\": \"a.py\", "}}})}};
  replies.push_back(malformed);
  replies.push_back(t::call("write_file", {{"path", "../escape.py"}, {"content", "x"}}));
  replies.push_back(t::call("write_file", {{"path", "/etc/cron.d/evil"}, {"content", "x"}}));
  replies.push_back(t::call("read_file", {{"path", "sub/../../etc/passwd"}}));
  replies.push_back(t::call("delete_everything", json::object()));
  replies.push_back(t::call("submit", {{"task_prompt", "?"}}));
  replies.push_back(t::call("submit", t::first_submission()));  // schema-valid, but no files
  replies.push_back(t::text("I give up."));
  replies.push_back(t::text("Still nothing."));
  agents::ScriptedBackend llm(json{{"replies", replies}}, "garbage");
  try {
    build(llm, 3);
    FAIL() << "expected the item to fail";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("built no environment"), std::string::npos) << what;
    EXPECT_NE(what.find("attempt 2"), std::string::npos) << what;
  }
  const auto results = tool_results(llm);
  ASSERT_EQ(results.size(), 7u);
  EXPECT_NE(results[0].find("not valid JSON"), std::string::npos) << results[0];
  EXPECT_NE(results[1].find("\\\"..\\\""), std::string::npos) << results[1];
  EXPECT_NE(results[2].find("absolute"), std::string::npos) << results[2];
  EXPECT_NE(results[3].find("\\\"..\\\""), std::string::npos) << results[3];
  EXPECT_NE(results[4].find("unknown tool"), std::string::npos) << results[4];
  EXPECT_NE(results[5].find("missing required"), std::string::npos) << results[5];
  EXPECT_NE(results[6].find("submission refused: the workspace has no world.db"), std::string::npos) << results[6];
}

TEST_F(AuthoredItemTest, TurnBudgetBoundsAnAgentThatNeverStops) {
  json script = {{"replies", json::array({t::call("run_bash", {{"script", "echo again"}})})}, {"repeat", true}};
  agents::ScriptedBackend llm(script, "loop");
  options_.budget.max_turns = 3;
  options_.attempts = 1;
  try {
    build(llm, 4);
    FAIL() << "expected the item to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("max_turns"), std::string::npos) << e.what();
  }
  EXPECT_EQ(llm.replies_used(), 3u);
}

}  // namespace
}  // namespace envforge::generators::authored
