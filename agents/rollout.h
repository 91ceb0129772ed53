// Solver rollouts: an agent attempts a task through the environment's tools in its sandboxed
// Python session, and the task's verifier, in the same sandbox, scores the answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/agent_loop.h"
#include "agents/backend.h"

namespace envforge::agents {

struct RolloutEnvironment {
  std::string system_prompt;
  std::vector<model::ToolSchema> tools;  // the environment's tools (OpenAI function format)
  std::string tools_py;
  std::string verify_py;
  std::optional<std::string> world_db;   // host path, mounted read-only in the box
};

struct RolloutTask {
  std::string prompt;
  nlohmann::json task;           // handed to verify() as `task`
  // JSON Schema of the answer: the agent submits it through a final-answer tool whose one
  // argument "answer" has this schema. Null: the agent's final text is the answer.
  nlohmann::json answer_schema;
};

struct RolloutOptions {
  AgentConfig agent;  // budgets, sampling, tool timeout; its prompt and tools are replaced
  std::string answer_tool = "submit_answer";
  std::chrono::milliseconds verify_timeout{20000};
  // The agent's time for one attempt, model calls and tools together, unless agent.budget
  // sets a shorter max_wall (0 = no limit). Running out is a failed attempt (time_budget).
  std::chrono::milliseconds time_limit{std::chrono::minutes(30)};
};

struct RolloutResult {
  Trajectory trajectory;
  bool answered = false;   // the agent gave an answer to verify
  bool pass = false;
  double score = 0;
  std::string reason;      // the verifier's reason, or why there is no verdict
  // The verifier raised, crashed or returned the wrong shape on this answer: a failed
  // answer (reward 0), since garbage must not dodge a zero.
  bool verifier_error = false;
  // The sandbox itself failed while judging: no verdict at all (an infrastructure error).
  bool sandbox_error = false;
  nlohmann::json verdict;  // what verify() returned
  double verify_ms = 0;
  std::uint64_t seed = 0;
  std::int64_t started_at_ms = 0;  // unix epoch milliseconds

  nlohmann::json to_json() const;
};

// One attempt. `seed` goes to the sampler so that attempts differ.
RolloutResult run_rollout(Backend& backend, const RolloutEnvironment& env, const RolloutTask& task,
                          const RolloutOptions& options, std::uint64_t seed);

struct RolloutBatch {
  std::vector<RolloutResult> results;  // in attempt order
  int passes = 0;
  double pass_rate = 0;
  // Unbiased pass@k for k = 1, 2, 4, ... up to n (and n itself).
  std::vector<std::pair<int, double>> pass_at;
};

// `n` attempts, `parallel` at a time (each worker has its own sandbox session); attempt i
// uses seed + i. The backend is shared by the workers.
RolloutBatch run_rollouts(Backend& backend, const RolloutEnvironment& env, const RolloutTask& task,
                          const RolloutOptions& options, int n, int parallel, std::uint64_t seed);

// The backend of attempt i. Replayed scripts keep a cursor, so attempts running in parallel
// would take each other's replies from one shared instance; a provider gives each its own.
using BackendProvider = std::function<std::shared_ptr<Backend>(int attempt)>;

// As above with a backend per attempt from `backend_for` (called from the worker threads;
// exceptions it throws end the batch like a sandbox that cannot start). An exception inside
// one attempt fails that attempt only (stop reason tool_failure, the exception as its error).
RolloutBatch run_rollouts(const BackendProvider& backend_for, const RolloutEnvironment& env,
                          const RolloutTask& task, const RolloutOptions& options, int n, int parallel,
                          std::uint64_t seed);

}  // namespace envforge::agents
