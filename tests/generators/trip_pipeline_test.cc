// One work item end to end (world -> tasks -> solve -> validate -> records) and
// the synth job with resume, with Python on the host (the sandboxed run is
// covered end to end in tests/synth).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "data/content_id.h"
#include "data/corpus.h"
#include "generators/synth_job.h"
#include "generators/trip/validate.h"
#include "generators/trip/work_item.h"
#include "tests/generators/trip_python_fixture.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;

TEST(TripValidate, ReferencePassesNegativesFailRepeatsAgree) {
  testing::TripPython env(3);
  for (const auto& lt : make_ladder(env.world, 3)) {
    const auto negs = make_negatives(env.world, lt.task, lt.reference.plan);
    const TaskValidation v = validate_task(*env.python, lt.task, lt.reference.plan, negs);
    EXPECT_TRUE(v.usable) << "L" << lt.task.level << ": " << v.reject_reason;
    ASSERT_EQ(v.records.size(), 1 + negs.size() + 2);
    std::set<std::pair<std::string, int>> checks;
    for (const auto& r : v.records) {
      EXPECT_TRUE(r.as_expected) << r.check << ": " << r.reason;
      EXPECT_EQ(r.input_digest.size(), 64u);
      checks.insert({r.check, r.attempt});
    }
    EXPECT_EQ(checks.size(), v.records.size()) << "check + attempt must be unique";
    EXPECT_EQ(v.records[0].check, "reference");
    EXPECT_EQ(v.records[0].verdict, "pass");
  }
}

TEST(TripValidate, ABrokenVerifierIsCaught) {
  testing::TripPython env(3);
  testing::HostPythonFactory factory;
  auto lenient = factory.open({{"verify.py", "def verify(answer, world, task):\n"
                                             "    return {'pass': True, 'score': 1.0, 'reason': 'ok'}\n"}},
                              env.db_path);
  const auto lt = make_ladder(env.world, 3).at(2);
  const auto negs = make_negatives(env.world, lt.task, lt.reference.plan);
  TaskValidation v = validate_task(*lenient, lt.task, lt.reference.plan, negs);
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reject_reason.find("negative:"), std::string::npos) << v.reject_reason;

  auto crashing = factory.open({{"verify.py", "def verify(answer, world, task):\n    raise ValueError('boom')\n"}},
                               env.db_path);
  v = validate_task(*crashing, lt.task, lt.reference.plan, negs);
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reject_reason.find("reference: error"), std::string::npos) << v.reject_reason;
  EXPECT_EQ(v.records[0].verdict, "error");

  // Too few wrong answers: not usable either.
  std::vector<Negative> few(negs.begin(), negs.begin() + 3);
  v = validate_task(*env.python, lt.task, lt.reference.plan, few);
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reject_reason.find("only 3 wrong answers"), std::string::npos) << v.reject_reason;
}

TEST(TripValidate, ToolsProbe) {
  testing::TripPython env(2);
  EXPECT_EQ(check_tools(*env.python, env.world), "");
  testing::HostPythonFactory factory;
  auto broken = factory.open({{"tools.py", "def list_cities(**kw):\n    return []\n"}}, env.db_path);
  EXPECT_NE(check_tools(*broken, env.world), "");
}

TEST(TripWorkItem, WholeItemIsDeterministicAndUsable) {
  testing::TempDir dir;
  testing::HostPythonFactory python;
  WorkItemOptions o;
  o.scratch_dir = dir.path;
  StageTimes t1, t2;
  const data::WorkItem a = build_work_item(0, 4, python, o, t1);
  const data::WorkItem b = build_work_item(0, 4, python, o, t2);
  EXPECT_EQ(a.key, data::work_item_key("trip", 0, 4, kGeneratorVersion));
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(data::environment_id(a.environment), data::environment_id(b.environment));
  EXPECT_EQ(a.environment.category, "trip");
  EXPECT_GE(a.environment.tools.size(), 8u);
  EXPECT_EQ(a.environment.world_db.substr(0, 15), "SQLite format 3");
  ASSERT_EQ(a.tasks.size(), static_cast<size_t>(kLevels));
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    EXPECT_EQ(a.tasks[i].difficulty, static_cast<int>(i) + 1);
    EXPECT_EQ(a.tasks[i].status, data::TaskStatus::kUsable) << a.tasks[i].reject_reason;
    EXPECT_EQ(data::task_content_hash(a.tasks[i]), data::task_content_hash(b.tasks[i]));
    EXPECT_GE(a.tasks[i].validations.size(), 13u);
  }
  EXPECT_GT(t1.ms("world"), 0);
  EXPECT_GT(t1.ms("validate"), 0);
  EXPECT_EQ(t1.stages().size(), 3u) << "world, solve, validate";
  EXPECT_NE(build_work_item(0, 5, python, o, t2).environment.seed, a.environment.seed);
  // The world file is removed once the item is built.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path));
}

TEST(SynthJob, RecordsThenResumesWithoutDuplicates) {
  testing::TempDir dir;
  testing::HostPythonFactory python;
  const std::string path = dir.path + "/corpus.db";
  SynthOptions o;
  o.count = 3;
  o.seed = 7;
  o.jobs = 2;
  o.scratch_dir = dir.path;
  std::vector<uint64_t> done;
  {
    auto corpus = data::Corpus::open(path);
    const SynthSummary s = run_synth(o, corpus, python, [&](const ItemOutcome& out) { done.push_back(out.index); });
    EXPECT_EQ(s.environments, 3u);
    EXPECT_EQ(s.skipped, 0u);
    EXPECT_EQ(s.tasks, 15u);
    EXPECT_EQ(s.usable, 15u);
    EXPECT_EQ(s.tasks_per_level.at(5), 3u);
    EXPECT_DOUBLE_EQ(s.validation_pass_rate(), 1.0);
    EXPECT_EQ(s.to_json()["environments"], 3);
  }
  EXPECT_EQ(done.size(), 3u);
  auto corpus = data::Corpus::open(path);
  const auto keys = corpus.work_item_keys();
  EXPECT_EQ(keys.size(), 3u);
  o.count = 4;  // one more than before: three resume, one is new
  const SynthSummary again = run_synth(o, corpus, python);
  EXPECT_EQ(again.skipped, 3u);
  EXPECT_EQ(again.environments, 1u);
  EXPECT_EQ(corpus.count_tasks(), 20);
  EXPECT_EQ(corpus.audit_summary().environments, 4);
  o.category = "poetry";
  EXPECT_THROW(run_synth(o, corpus, python), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::generators::trip
