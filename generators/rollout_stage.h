// The solver-rollout stage of a synth work item: every task that passed validation is
// attempted K times by the solver through the environment's tools in the sandbox, each
// answer scored by the task's verifier; the attempts become the task's rollout records,
// its metadata gets the pass@k estimates, and the keep policy sets its status. All of it
// happens on the work item in memory, before the item's one transaction.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "agents/rollout.h"
#include "data/records.h"
#include "generators/solver_source.h"

namespace envforge::generators {

// Which pass rates keep a task usable. Exclusive (the default): min < rate < max, so with
// 0 and 1 the tasks that were never solved and those always solved are filtered out.
// Inclusive: min <= rate <= max.
struct KeepBand {
  double min = 0.0;
  double max = 1.0;
  bool inclusive = false;

  bool keeps(double pass_rate) const;
  bool empty() const;             // keeps no rate at all
  std::string describe() const;   // "(0, 1)" or "[0.25, 1]"
};

struct RolloutStageOptions {
  int attempts = 4;               // K per task
  int parallel = 4;               // attempts at a time per task (each in its own sandbox session)
  KeepBand keep;
  agents::RolloutOptions rollout;  // agent budgets; prompt and tools come from the environment
  // Rewards: binary by default (a pass 1, anything else 0), what trainers expect; shaped
  // stores the verifier's partial score instead. Either way the trajectory's verdict keeps
  // both components ("pass" and "partial_score").
  bool shaped_rewards = false;
  std::string scratch_dir = "/tmp";  // where the world database lives while the solver works
};

// Totals of a stage, summed over tasks (and work items by the caller).
struct RolloutStageStats {
  uint64_t tasks = 0;            // tasks attempted
  uint64_t attempts = 0;
  uint64_t passes = 0;
  uint64_t errors = 0;           // attempts without a verdict for reasons not the solver's own
  uint64_t scored_tasks = 0;     // tasks with at least one scored attempt (the policy applies)
  uint64_t kept = 0, filtered = 0;
  double pass_rate_sum = 0;      // over scored tasks
  std::map<int, double> pass_at_sum;      // k -> sum over the scored tasks with at least k attempts
  std::map<int, uint64_t> pass_at_tasks;  // k -> how many tasks that sum is over
  double ms = 0;                 // wall time of the stage

  RolloutStageStats& operator+=(const RolloutStageStats& o);
  nlohmann::json to_json() const;  // with averages
};

// The prefix of reject reasons the keep policy writes.
inline constexpr const char* kKeepPolicyReason = "keep policy: ";

// Runs the stage on `item` in place. Tasks that are not usable are left alone. Throws
// std::runtime_error when the sandbox cannot run the rollouts at all.
RolloutStageStats run_rollout_stage(data::WorkItem& item, SolverSource& solver,
                                    const RolloutStageOptions& options);

}  // namespace envforge::generators
