// The rollout stage on a real trip work item in the sandbox: only tasks that passed
// validation are attempted, attempts that error (here: a script that has no answer for a
// task) are recorded but not scored, and the keep policy judges only scored tasks.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "generators/rollout_stage.h"
#include "generators/sandbox_python.h"
#include "generators/solver_source.h"
#include "generators/trip/work_item.h"
#include "tests/synth/cli_run.h"

namespace envforge::generators {
namespace {

using nlohmann::json;

TEST(RolloutStage, OnlyValidatedTasksAreAttemptedAndErroredAttemptsAreNotScored) {
  testing::CliTempDir dir;
  auto python = sandbox_python_factory();
  StageTimes times;
  trip::WorkItemOptions wo;
  wo.scratch_dir = dir.path;
  data::WorkItem item = trip::build_work_item(5, 0, *python, wo, times);
  ASSERT_EQ(item.tasks.size(), 5u);
  for (const auto& t : item.tasks) ASSERT_EQ(t.status, data::TaskStatus::kUsable) << t.reject_reason;
  ASSERT_EQ(item.tasks[0].metadata["task"]["kind"], "lookup");
  item.tasks[4].status = data::TaskStatus::kRejected;
  item.tasks[4].reject_reason = "reference: rejected for this test";
  const json untouched = item.tasks[4].metadata;

  // Only a lookup's reference has a hotel_id: the plan tasks get no answer from this script.
  const std::string script = dir.file("hotel.json");
  testing::write_text_file(script, R"({"replies": [{"tool_calls": [{"name": "submit_answer",
      "arguments": {"answer": {"hotel_id": "{{reference/hotel_id}}"}}}]}]})");
  auto solver = make_solver_source("scripted:" + script);
  RolloutStageOptions o;
  o.attempts = 2;
  o.parallel = 2;
  o.scratch_dir = dir.path;
  const RolloutStageStats stats = run_rollout_stage(item, *solver, o);

  EXPECT_EQ(stats.tasks, 4u);
  EXPECT_EQ(stats.attempts, 8u);
  EXPECT_EQ(stats.passes, 2u);
  EXPECT_EQ(stats.errors, 6u);
  EXPECT_EQ(stats.scored_tasks, 1u);
  EXPECT_EQ(stats.filtered, 1u);
  EXPECT_EQ(stats.kept, 0u);

  const auto& lookup = item.tasks[0];
  ASSERT_EQ(lookup.rollouts.size(), 2u);
  EXPECT_TRUE(lookup.rollouts[0].passed);
  EXPECT_EQ(lookup.status, data::TaskStatus::kRejected);
  EXPECT_EQ(lookup.reject_reason, "keep policy: pass rate 1.00 outside (0, 1)");
  EXPECT_EQ(lookup.metadata["rollouts"]["pass_rate"], 1.0);
  EXPECT_EQ(lookup.metadata["rollouts"]["kept"], false);
  EXPECT_FALSE(lookup.content_hash.empty());

  for (int i = 1; i <= 3; ++i) {
    const auto& t = item.tasks[static_cast<size_t>(i)];
    ASSERT_EQ(t.rollouts.size(), 2u) << i;
    EXPECT_EQ(t.status, data::TaskStatus::kUsable) << "no scored attempt: the policy does not judge it";
    const json& m = t.metadata["rollouts"];
    EXPECT_EQ(m["scored"], 0);
    EXPECT_EQ(m["errors"], 2);
    EXPECT_TRUE(m["pass_rate"].is_null());
    EXPECT_TRUE(m["kept"].is_null());
    const json& traj = t.rollouts[0].trajectory;
    EXPECT_EQ(traj["stop_reason"], "backend_error");
    EXPECT_NE(traj.value("error", "").find("{{reference/hotel_id}}"), std::string::npos) << traj.dump();
    EXPECT_EQ(traj["verdict"]["error"], true);
    EXPECT_EQ(t.rollouts[0].reward, 0.0);
  }
  EXPECT_TRUE(item.tasks[4].rollouts.empty()) << "a task that failed validation gets no rollouts";
  EXPECT_EQ(item.tasks[4].metadata, untouched);
  EXPECT_EQ(item.tasks[4].reject_reason, "reference: rejected for this test");
  // The world file the solver's tools read is gone.
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(e.path().filename().string().rfind("envforge-rollout-", 0), std::string::npos) << e.path();
}

// A trip work item with only its first `usable` tasks left usable.
data::WorkItem trip_item_with_usable(const testing::CliTempDir& dir, PythonExecutorFactory& python, size_t usable) {
  StageTimes times;
  trip::WorkItemOptions wo;
  wo.scratch_dir = dir.path;
  data::WorkItem item = trip::build_work_item(5, 0, python, wo, times);
  for (size_t i = usable; i < item.tasks.size(); ++i) {
    item.tasks[i].status = data::TaskStatus::kRejected;
    item.tasks[i].reject_reason = "rejected for this test";
  }
  return item;
}

TEST(RolloutStage, AVerifierThatRaisesOnTheAnswerIsAFailedAnswerNotAnInfrastructureError) {
  testing::CliTempDir dir;
  auto python = sandbox_python_factory();
  data::WorkItem item = trip_item_with_usable(dir, *python, 2);
  // Task 0 keeps the real trip verifier, which gets 5000 levels of nesting as the answer text
  // (json.loads raised RecursionError); task 1's verifier raises on every answer.
  item.tasks[1].verifier_code = "def verify(answer, world, task):\n    raise RecursionError('too deep')\n";
  const std::string script = dir.file("deep.json");
  testing::write_text_file(script, json{{"replies", {{{"content", std::string(5000, '[') + std::string(5000, ']')}}}}}.dump());
  auto solver = make_solver_source("scripted:" + script);
  RolloutStageOptions o;
  o.attempts = 2;
  o.parallel = 1;
  o.scratch_dir = dir.path;
  const RolloutStageStats stats = run_rollout_stage(item, *solver, o);

  EXPECT_EQ(stats.attempts, 4u);
  EXPECT_EQ(stats.errors, 0u) << "garbage must not dodge a zero";
  EXPECT_EQ(stats.passes, 0u);
  EXPECT_EQ(stats.scored_tasks, 2u);
  for (int i = 0; i < 2; ++i) {
    const auto& t = item.tasks[static_cast<size_t>(i)];
    ASSERT_EQ(t.rollouts.size(), 2u);
    EXPECT_EQ(t.metadata["rollouts"]["scored"], 2) << i;
    EXPECT_EQ(t.metadata["rollouts"]["pass_rate"], 0.0) << i;
    for (const auto& r : t.rollouts) {
      EXPECT_FALSE(r.passed);
      EXPECT_EQ(r.reward, 0.0);
      EXPECT_EQ(r.trajectory["verdict"]["error"], false) << r.trajectory["verdict"].dump();
    }
  }
  EXPECT_EQ(item.tasks[1].rollouts[0].trajectory["verdict"]["verifier_error"], true);
  EXPECT_NE(item.tasks[1].rollouts[0].trajectory["verdict"]["reason"].get<std::string>().find("RecursionError"),
            std::string::npos);
}

TEST(RolloutStage, RewardsAreBinaryByDefaultWithThePartialScoreKeptAndShapedOnRequest) {
  testing::CliTempDir dir;
  auto python = sandbox_python_factory();
  data::WorkItem base = trip_item_with_usable(dir, *python, 2);
  base.tasks[0].verifier_code =
      "def verify(answer, world, task):\n    return {'pass': False, 'score': 0.9, 'reason': 'a near miss'}\n";
  base.tasks[1].verifier_code =
      "def verify(answer, world, task):\n    return {'pass': True, 'score': 1.0, 'reason': 'right'}\n";
  const std::string script = dir.file("text.json");
  testing::write_text_file(script, R"({"replies": [{"content": "my plan"}]})");
  auto solver = make_solver_source("scripted:" + script);
  for (bool shaped : {false, true}) {
    data::WorkItem item = base;
    RolloutStageOptions o;
    o.attempts = 1;
    o.parallel = 1;
    o.scratch_dir = dir.path;
    o.shaped_rewards = shaped;
    run_rollout_stage(item, *solver, o);
    const auto& near = item.tasks[0].rollouts.at(0);
    EXPECT_FALSE(near.passed);
    EXPECT_DOUBLE_EQ(near.reward, shaped ? 0.9 : 0.0) << "shaped " << shaped;
    const json& reward = near.trajectory["verdict"]["reward"];
    EXPECT_EQ(reward["mode"], shaped ? "shaped" : "binary");
    EXPECT_DOUBLE_EQ(reward["partial_score"].get<double>(), 0.9);
    EXPECT_DOUBLE_EQ(reward["pass"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(item.tasks[1].rollouts.at(0).reward, 1.0);
    EXPECT_EQ(item.tasks[0].metadata["rollouts"]["rewards"], shaped ? "shaped" : "binary");
  }
}

}  // namespace
}  // namespace envforge::generators
