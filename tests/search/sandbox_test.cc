// Search environments in the real sandbox: work items from the generated encyclopedia and
// from this machine's package records, validated through the real tools; a solver answers a
// level-3 question through search and find alone; an ambiguous question is rejected.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "generators/sandbox_python.h"
#include "generators/search/embedded.h"
#include "generators/search/ladder.h"
#include "generators/search/package_world.h"
#include "generators/search/synthetic_world.h"
#include "generators/search/validate.h"
#include "generators/search/work_item.h"
#include "generators/search/world_db.h"
#include "generators/work_util.h"
#include "tests/synth/cli_run.h"
#include "tool_solver.h"

namespace envforge::generators::search {
namespace {

using nlohmann::json;

// One sandboxed interpreter over a world's database, as validation uses it.
struct Session {
  Session(const World& w, const envforge::testing::CliTempDir& dir) {
    db.path = dir.file("world.db");
    envforge::testing::write_text_file(db.path, world_db_bytes(w));
    python = sandbox_python_factory();
    py = python->open({{"tools.py", std::string(tools_py())},
                       {"verify.py", std::string(verify_py())},
                       {"probe.py", std::string(probe_py())}},
                      db.path);
  }
  TempFile db;
  std::unique_ptr<PythonExecutorFactory> python;
  std::unique_ptr<PythonExecutor> py;
};

void expect_item_usable_at_every_level(const data::WorkItem& item) {
  std::map<int, int> usable;
  for (const auto& t : item.tasks) {
    if (t.status == data::TaskStatus::kUsable) ++usable[t.difficulty];
    else ADD_FAILURE() << "L" << t.difficulty << " " << t.prompt << ": " << t.reject_reason;
    size_t candidates = 0, proofs = 0;
    for (const auto& v : t.validations) {
      candidates += v.check.rfind("candidate:", 0) == 0 && v.as_expected;
      proofs += v.check.rfind("proof:", 0) == 0 && v.as_expected;
    }
    EXPECT_GE(candidates, 10u) << t.prompt;
    EXPECT_GE(proofs, 1u) << t.prompt;
    EXPECT_EQ(t.metadata["uniqueness"]["start_matches"], 1);
    EXPECT_FALSE(t.reference_solution["proof"].empty());
  }
  for (int level = 1; level <= kLevels; ++level) EXPECT_GE(usable[level], 1) << "level " << level;
}

TEST(SearchSandbox, SyntheticWorkItemIsValidatedAtFiveLevels) {
  envforge::testing::CliTempDir dir;
  auto python = sandbox_python_factory();
  WorkItemOptions o;
  o.scratch_dir = dir.path;
  StageTimes times;
  const data::WorkItem item = build_work_item(synthetic_world(21), 21, *python, o, times);
  EXPECT_EQ(item.environment.category, "search");
  EXPECT_EQ(item.environment.world_db.substr(0, 15), "SQLite format 3");
  EXPECT_EQ(item.environment.tools.size(), 3u);
  EXPECT_EQ(item.tasks.size(), 10u);
  expect_item_usable_at_every_level(item);
  EXPECT_GT(times.ms("validate"), 0);
}

TEST(SearchSandbox, PackageRecordsWorkItemIsValidatedAtFiveLevels) {
  envforge::testing::CliTempDir dir;
  auto python = sandbox_python_factory();
  WorkItemOptions o;
  o.scratch_dir = dir.path;
  o.tasks_per_level = 1;
  StageTimes times;
  const data::WorkItem item =
      build_work_item(package_world(read_dpkg_status("/var/lib/dpkg/status"), 4), 4, *python, o, times);
  EXPECT_EQ(item.environment.env_json["world"]["source"], "packages");
  expect_item_usable_at_every_level(item);
}

TEST(SearchSandbox, AScriptedSolverAnswersALevelThreeTaskThroughTheTools) {
  envforge::testing::CliTempDir dir;
  const World w = synthetic_world(31);
  Session s(w, dir);
  int answered = 0;
  for (const Question& q : make_ladder(w, 31, 3)) {
    if (q.level != 3) continue;
    const SearchTask task = make_task(w, q);
    testing::ToolSolver solver(*s.py, w);
    const auto answer = solver.answer(q);
    ASSERT_TRUE(answer) << task.prompt << ": " << solver.why();
    EXPECT_GT(solver.tool_calls(), 5);
    const auto verdict = s.py->call("verify", "verify",
                                    {{"answer", *answer}, {"world", s.py->world_path()}, {"task", task.verifier_task()}});
    ASSERT_TRUE(verdict.ok) << verdict.message;
    EXPECT_TRUE(verdict.value["pass"].get<bool>()) << task.prompt << " -> " << *answer << ": " << verdict.value.dump();
    ++answered;
  }
  EXPECT_EQ(answered, 3);
}

TEST(SearchSandbox, AnAmbiguousQuestionIsRejectedByTheUniquenessCheck) {
  envforge::testing::CliTempDir dir;
  const World w = synthetic_world(5);
  Session s(w, dir);
  // A well-formed level-3 task, then the same task with a constraint dropped so that two
  // entities fit: the task's answer is still right for one of them, and the check rejects it.
  for (const Question& q : make_ladder(w, 5, 4)) {
    if (q.level != 3) continue;
    SearchTask task = make_task(w, q);
    ASSERT_TRUE(validate_task(*s.py, w, task).usable);
    for (size_t drop = 0; drop < q.constraints.size(); ++drop) {
      Question loose = q;
      loose.constraints.erase(loose.constraints.begin() + static_cast<std::ptrdiff_t>(drop));
      if (evaluate(w, loose).start_matches.size() < 2) continue;
      task.question = loose;
      const SearchValidation v = validate_task(*s.py, w, task);
      EXPECT_FALSE(v.usable);
      EXPECT_EQ(v.reject_reason.rfind("ambiguous: ", 0), 0u) << v.reject_reason;
      EXPECT_GE(v.uniqueness["start_matches"].get<int>(), 2);
      return;
    }
  }
  FAIL() << "no level-3 question with a droppable constraint";
}

TEST(SearchSandbox, ValidationCatchesABrokenVerifierAndAnUnstatedFact) {
  envforge::testing::CliTempDir dir;
  World w = synthetic_world(9);
  const Question q = make_ladder(w, 9, 1).at(1);
  SearchTask task = make_task(w, q);
  {
    Session s(w, dir);
    ASSERT_TRUE(validate_task(*s.py, w, task).usable);
  }
  // A verifier that accepts everything fails on the confusable candidates.
  {
    TempFile db{dir.file("w2.db")};
    envforge::testing::write_text_file(db.path, world_db_bytes(w));
    auto python = sandbox_python_factory();
    auto lenient = python->open({{"tools.py", std::string(tools_py())},
                                 {"verify.py", "def verify(answer, world, task):\n"
                                               "    return {'pass': True, 'score': 1.0, 'reason': 'ok'}\n"},
                                 {"probe.py", std::string(probe_py())}},
                                db.path);
    const SearchValidation v = validate_task(*lenient, w, task);
    EXPECT_FALSE(v.usable);
    EXPECT_EQ(v.reject_reason.rfind("candidate '", 0), 0u) << v.reject_reason;
  }
  // A proof fact whose sentence is gone from its document.
  const Evaluation ev = evaluate(w, q);
  const std::string doc = ev.proof.front()->doc, evidence = ev.proof.front()->evidence;
  for (auto& d : w.documents)
    if (d.id == doc) d.text.replace(d.text.find(evidence), evidence.size(), "This line was removed.");
  w.index();
  Session s(w, dir);
  const SearchValidation v = validate_task(*s.py, w, make_task(w, q));
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reject_reason.find("does not state"), std::string::npos) << v.reject_reason;
}

TEST(SearchSandbox, ToolsRefuseBadArgumentsAndVerifyNormalises) {
  envforge::testing::CliTempDir dir;
  const World w = synthetic_world(2);
  Session s(w, dir);
  auto call = [&](const char* tool, const json& args) {
    const auto r = s.py->call("tools", tool, args);
    EXPECT_TRUE(r.ok) << tool << " raised " << r.error_type << ": " << r.message;
    return r.value;
  };
  const json hits = call("search", {{"query", w.entities[5].name}, {"k", 3}});
  ASSERT_FALSE(hits["hits"].empty());
  EXPECT_EQ(hits["hits"][0]["title"], w.entities[5].name);
  EXPECT_LE(hits["hits"].size(), 3u);
  const std::string id = hits["hits"][0]["id"];
  const json page = call("open", {{"doc_id", id}});
  EXPECT_EQ(page["text"].get<std::string>().rfind(w.entities[5].name, 0), 0u);
  EXPECT_EQ(call("find", {{"doc_id", id}, {"pattern", "(unclosed"}})["lines"].size(), 0u);
  for (const auto& [tool, args, mentions] : std::vector<std::tuple<const char*, json, const char*>>{
           {"search", {{"query", "!!!"}}, "no words"},
           {"search", {{"query", "x"}, {"k", 0}}, "'k'"},
           {"search", {{"query", 7}}, "'query' must be a string"},
           {"search", {{"q", "x"}}, "unknown argument 'q'"},
           {"open", {{"doc_id", "nope"}}, "no document 'nope'"},
           {"open", {{"doc_id", id}, {"offset", 999999}}, "'offset'"},
           {"find", {{"doc_id", id}, {"pattern", ""}}, "empty"},
           {"find", {{"doc_id", id}}, "missing required argument 'pattern'"}}) {
    const json r = call(tool, args);
    ASSERT_TRUE(r.contains("error")) << tool << args.dump() << " -> " << r.dump();
    EXPECT_NE(r["error"].get<std::string>().find(mentions), std::string::npos) << r.dump();
  }
  const json task = {{"answer_kind", "date"}, {"answers", {"1873-04-02"}}};
  for (const auto& [answer, pass] : std::vector<std::pair<json, bool>>{
           {"2 April 1873", true}, {"April 2, 1873", true}, {" 1873-04-02. ", true}, {"1873", false},
           {"1873-02-04", false}, {json(nullptr), false}, {json::array(), false}, {std::string(5000, 'x'), false}}) {
    const auto r = s.py->call("verify", "verify", {{"answer", answer}, {"world", s.py->world_path()}, {"task", task}});
    ASSERT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.value["pass"].get<bool>(), pass) << answer.dump();
  }
}

}  // namespace
}  // namespace envforge::generators::search
