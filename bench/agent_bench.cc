// Tool-call round trips per second through the agent loop (scripted backend, in-process tools),
// against a baseline in the same run: the same backend and tool calls made directly, without
// the loop. The difference is the loop's own overhead (argument checks, message bookkeeping,
// trajectory recording).
//
// Then rollouts per minute on the trip category: a scripted solver looks up hotels through the
// sandboxed tools.py and submits an answer that verify.py scores, `parallel` attempts at once
// (baseline: the same attempts one at a time).
//
//   agent_bench [--episodes N] [--calls-per-episode K] [--rollouts R] [--parallel P]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "agents/agent_loop.h"
#include "agents/scripted_backend.h"
#include "agents/rollout.h"
#include "generators/trip/embedded.h"
#include "generators/trip/ladder.h"
#include "generators/trip/world.h"
#include "generators/trip/world_db.h"

using namespace envforge::agents;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

json episode_script(int calls) {
  json replies = json::array();
  for (int i = 0; i < calls; ++i)
    replies.push_back({{"content", ""},
                       {"tool_calls", {{{"id", "c" + std::to_string(i)}, {"name", "lookup"},
                                        {"arguments", {{"city", "Oslo"}, {"day", i}}}}}},
                       {"usage", {{"prompt_tokens", 200 + 50 * i}, {"completion_tokens", 30}}}});
  replies.push_back({{"content", "done"}, {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 5}}}});
  return {{"replies", replies}, {"repeat", true}};
}

json lookup(const json& a) {
  return {{"city", a.at("city")}, {"day", a.at("day")}, {"flights", {"SK101", "DY202", "LH303"}}};
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Rollouts of the first ladder task of one trip world; returns rollouts per minute.
double trip_rollouts_per_minute(int rollouts, int parallel, int& passes) {
  namespace trip = envforge::generators::trip;
  const std::uint64_t seed = 3;
  trip::World world = trip::generate_world(seed);
  auto ladder = trip::make_ladder(world, seed, 1);
  if (ladder.empty()) throw std::runtime_error("trip world 3 has no level-1 task");
  const trip::LadderTask& lt = ladder[0];
  RolloutEnvironment env;
  env.system_prompt = trip::system_prompt();
  for (const auto& t : json::parse(trip::tool_schemas_json())) env.tools.push_back(t);
  env.tools_py = std::string(trip::tools_py());
  env.verify_py = std::string(trip::verify_py());
  env.world_db = "/tmp/envforge_agent_bench_world.db";
  trip::write_file(*env.world_db, trip::world_db_bytes(world));
  RolloutTask task{lt.prompt, lt.task.to_json(), lt.answer_schema};
  json search = {{"name", "search_hotels"}, {"arguments", {{"city", lt.task.city}}}};
  json submit = {{"name", "submit_answer"}, {"arguments", {{"answer", lt.reference.plan}}}};
  // Each attempt replays its own script (one lookup, then the answer), as synth does for
  // scripted solvers, so attempts running in parallel do not take each other's turns.
  const json script = {{"replies", {{{"tool_calls", {search}}}, {{"tool_calls", {submit}}}}}};
  RolloutOptions options;
  options.agent.budget.max_turns = 4;
  auto t0 = Clock::now();
  RolloutBatch batch = run_rollouts([&](int) { return std::make_shared<ScriptedBackend>(script); }, env, task,
                                    options, rollouts, parallel, 1);
  passes = batch.passes;
  return rollouts / seconds_since(t0) * 60.0;
}

}  // namespace

int main(int argc, char** argv) {
  int episodes = 2000, calls = 8, rollouts = 16, parallel = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--episodes")) episodes = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--calls-per-episode")) calls = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rollouts")) rollouts = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--parallel")) parallel = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: agent_bench [--episodes N] [--calls-per-episode K] "
                           "[--rollouts R] [--parallel P]\n");
      return 2;
    }
  }
  if (episodes < 1 || calls < 1 || rollouts < 0 || parallel < 1) {
    std::fprintf(stderr, "agent_bench: --episodes, --calls-per-episode and --parallel must be positive\n");
    return 2;
  }
  FunctionToolExecutor tools;
  tools.add("lookup", lookup);
  AgentConfig config;
  config.system_prompt = "You plan trips.";
  config.tools = {{{"type", "function"},
                   {"function",
                    {{"name", "lookup"},
                     {"parameters",
                      {{"type", "object"},
                       {"properties", {{"city", {{"type", "string"}}}, {"day", {{"type", "integer"}}}}},
                       {"required", {"city", "day"}},
                       {"additionalProperties", false}}}}}}};
  config.budget.max_turns = calls + 1;

  // Baseline: the backend and the tool called directly, one request of the same first-turn size.
  {
    ScriptedBackend warm(episode_script(calls));
    run_agent(warm, tools, config, "warm up");
  }
  ScriptedBackend direct(episode_script(calls));
  ChatRequest req;
  req.tools = config.tools;
  req.messages.resize(2);
  req.messages[0].role = "system";
  req.messages[0].content = config.system_prompt;
  req.messages[1].role = "user";
  req.messages[1].content = "Plan a trip to Oslo.";
  auto t0 = Clock::now();
  long direct_trips = 0;
  for (int e = 0; e < episodes; ++e) {
    for (int i = 0; i <= calls; ++i) {
      ChatResponse r = direct.chat(req);
      for (const auto& c : r.message.tool_calls) {
        tools.call(c.name, c.arguments, std::chrono::milliseconds(1000));
        ++direct_trips;
      }
    }
  }
  double direct_s = seconds_since(t0);

  ScriptedBackend looped(episode_script(calls));
  t0 = Clock::now();
  long loop_trips = 0;
  for (int e = 0; e < episodes; ++e) {
    Trajectory t = run_agent(looped, tools, config, "Plan a trip to Oslo.");
    if (t.stop_reason != StopReason::kFinalAnswer) {
      std::fprintf(stderr, "agent_bench: episode %d stopped with %s: %s\n", e,
                   to_string(t.stop_reason), t.error.c_str());
      return 1;
    }
    loop_trips += t.tool_calls;
  }
  double loop_s = seconds_since(t0);

  double direct_rate = direct_trips / direct_s, loop_rate = loop_trips / loop_s;
  std::printf("episodes %d, tool calls per episode %d\n", episodes, calls);
  std::printf("baseline (backend + tool called directly): %10.0f round trips/s\n", direct_rate);
  std::printf("agent loop (scripted backend):             %10.0f round trips/s\n", loop_rate);
  std::printf("loop / baseline: %.3f; loop overhead %.2f us per round trip\n", loop_rate / direct_rate,
              1e6 * (loop_s / loop_trips - direct_s / direct_trips));
  if (rollouts == 0) return 0;
  try {
    int serial_passes = 0, parallel_passes = 0;
    double serial = trip_rollouts_per_minute(rollouts, 1, serial_passes);
    double par = trip_rollouts_per_minute(rollouts, parallel, parallel_passes);
    std::printf("trip rollouts, 1 at a time:  %8.1f rollouts/min (%d of %d passed)\n", serial,
                serial_passes, rollouts);
    std::printf("trip rollouts, %d at a time:  %8.1f rollouts/min (%d of %d passed); ratio %.2f\n",
                parallel, par, parallel_passes, rollouts, par / serial);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agent_bench: trip rollouts failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
