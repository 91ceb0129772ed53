#include "agents/rollout.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "agents/pass_at_k.h"
#include "agents/python_tool_executor.h"
#include "verifiers/python_runner.h"

namespace envforge::agents {

using nlohmann::json;

namespace {

verifiers::PythonOptions session_options(const RolloutEnvironment& env) {
  verifiers::PythonOptions o;
  o.files = {{"tools.py", env.tools_py}, {"verify.py", env.verify_py}};
  o.world_db = env.world_db;
  return o;
}

AgentConfig agent_config(const RolloutEnvironment& env, const RolloutTask& task,
                         const RolloutOptions& options, std::uint64_t seed) {
  AgentConfig c = options.agent;
  c.system_prompt = env.system_prompt;
  c.tools = env.tools;
  c.final_answer_tool.clear();
  if (!task.answer_schema.is_null()) {
    c.tools.push_back({{"type", "function"},
                       {"function",
                        {{"name", options.answer_tool},
                         {"description", "Submit the final answer. Call it once, when done."},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"answer", task.answer_schema}}},
                           {"required", {"answer"}},
                           {"additionalProperties", false}}}}}});
    c.final_answer_tool = options.answer_tool;
  }
  c.sampling.seed = static_cast<std::int64_t>(seed);
  if (options.time_limit.count() > 0 &&
      (c.budget.max_wall.count() == 0 || c.budget.max_wall > options.time_limit))
    c.budget.max_wall = options.time_limit;
  return c;
}

// An attempt that ended in an exception: recorded as the environment's failure, not lost.
RolloutResult failed_attempt(std::uint64_t seed, const std::string& why) {
  RolloutResult r;
  r.seed = seed;
  r.started_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  r.trajectory.stop_reason = StopReason::kToolFailure;
  r.trajectory.error = "the attempt failed: " + why;
  r.reason = "no answer: " + r.trajectory.error;
  return r;
}

RolloutResult rollout_in_session(Backend& backend, verifiers::PythonSession& session,
                                 const RolloutEnvironment& env, const RolloutTask& task,
                                 const RolloutOptions& options, std::uint64_t seed) {
  RolloutResult r;
  r.seed = seed;
  r.started_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  PythonToolExecutor executor(session);
  r.trajectory = run_agent(backend, executor, agent_config(env, task, options, seed), task.prompt);
  const Trajectory& t = r.trajectory;
  if (t.stop_reason != StopReason::kFinalAnswer || !t.final_answer) {
    r.reason = std::string("no answer: ") + to_string(t.stop_reason) + (t.error.empty() ? "" : " (" + t.error + ")");
    return r;
  }
  // Through the answer tool the answer is its "answer" argument; a model that answered in
  // text instead is scored on its text (verifiers read JSON given as a string).
  json answer = *t.final_answer;
  if (!task.answer_schema.is_null() && answer.is_object() && answer.contains("answer"))
    answer = answer["answer"];
  r.answered = true;
  verifiers::PythonResult v = session.call(
      "verify", "verify",
      {{"answer", answer}, {"world", std::string(verifiers::kWorldDbPath)}, {"task", task.task}},
      options.verify_timeout);
  r.verify_ms = static_cast<double>(v.wall_ms);
  if (!v.ok) {
    if (v.error_type == verifiers::error_type::kSandboxError) {
      r.sandbox_error = true;
      r.reason = "the sandbox failed while judging: " + v.message;
    } else {
      r.verifier_error = true;
      r.reason = "failed: the verifier raised on the answer: " + v.error_type + ": " + v.message;
    }
    return r;
  }
  r.verdict = v.value;
  const json& d = v.value;
  if (!d.is_object() || !d.contains("pass") || !d["pass"].is_boolean() ||
      (d.contains("score") && !d["score"].is_number())) {
    r.verifier_error = true;
    r.reason = "failed: the verifier returned " + d.dump() + ", expected {\"pass\": bool, \"score\": number, \"reason\": str}";
    return r;
  }
  r.pass = d["pass"].get<bool>();
  r.score = d.value("score", r.pass ? 1.0 : 0.0);
  if (d.contains("reason") && d["reason"].is_string()) r.reason = d["reason"].get<std::string>();
  return r;
}

}  // namespace

json RolloutResult::to_json() const {
  return {{"seed", seed},       {"started_at_ms", started_at_ms}, {"answered", answered}, {"pass", pass},
          {"score", score},     {"reason", reason},     {"verifier_error", verifier_error}, {"sandbox_error", sandbox_error},
          {"verdict", verdict}, {"verify_ms", verify_ms}, {"trajectory", trajectory.to_json()}};
}

RolloutResult run_rollout(Backend& backend, const RolloutEnvironment& env, const RolloutTask& task,
                          const RolloutOptions& options, std::uint64_t seed) {
  verifiers::PythonSession session(session_options(env));
  return rollout_in_session(backend, session, env, task, options, seed);
}

RolloutBatch run_rollouts(Backend& backend, const RolloutEnvironment& env, const RolloutTask& task,
                          const RolloutOptions& options, int n, int parallel, std::uint64_t seed) {
  std::shared_ptr<Backend> shared(&backend, [](Backend*) {});  // not owned
  return run_rollouts([&](int) { return shared; }, env, task, options, n, parallel, seed);
}

RolloutBatch run_rollouts(const BackendProvider& backend_for, const RolloutEnvironment& env,
                          const RolloutTask& task, const RolloutOptions& options, int n, int parallel,
                          std::uint64_t seed) {
  if (n < 1) throw std::invalid_argument("rollouts: the number of attempts must be positive");
  parallel = std::max(1, std::min(parallel, n));
  RolloutBatch batch;
  batch.results.resize(static_cast<std::size_t>(n));
  std::atomic<int> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto worker = [&] {
    try {
      verifiers::PythonSession session(session_options(env));
      for (int i = next++; i < n; i = next++) {
        std::shared_ptr<Backend> backend = backend_for(i);
        if (!backend) throw std::invalid_argument("rollouts: no backend for attempt " + std::to_string(i));
        const std::uint64_t attempt_seed = seed + static_cast<std::uint64_t>(i);
        RolloutResult& slot = batch.results[static_cast<std::size_t>(i)];
        try {
          slot = rollout_in_session(*backend, session, env, task, options, attempt_seed);
        } catch (const std::exception& e) {  // one attempt's failure never ends the others
          slot = failed_attempt(attempt_seed, e.what());
        }
      }
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = n;  // the others stop after their current attempt
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) workers.emplace_back(worker);
  for (auto& t : workers) t.join();
  if (failure) std::rethrow_exception(failure);
  for (const auto& r : batch.results) batch.passes += r.pass ? 1 : 0;
  batch.pass_rate = static_cast<double>(batch.passes) / n;
  for (int k = 1; k <= n; k *= 2) batch.pass_at.emplace_back(k, pass_at_k(n, batch.passes, k));
  if (batch.pass_at.back().first != n) batch.pass_at.emplace_back(n, pass_at_k(n, batch.passes, n));
  return batch;
}

}  // namespace envforge::agents
