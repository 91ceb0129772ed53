#include "generators/rollout_stage.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "agents/pass_at_k.h"
#include "data/content_id.h"

namespace envforge::generators {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The world database of the item as a file the sandbox can mount, removed however the stage ends.
class WorldFile {
 public:
  WorldFile(const std::string& dir, const std::string& key, const std::string& bytes) {
    static std::atomic<uint64_t> serial{0};
    path_ = (std::filesystem::path(dir) / ("envforge-rollout-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(serial++) + "-" + key.substr(0, 12) + ".db"))
                .string();
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw std::runtime_error("rollouts: cannot write the world database to " + path_);
  }
  ~WorldFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

uint64_t seed_of(const std::string& content_hash) {
  return content_hash.size() >= 16 ? std::stoull(content_hash.substr(0, 16), nullptr, 16) : 0;
}

// An attempt that ended for a reason that says nothing about the solver's skill: the model
// could not be reached, the environment broke, or the sandbox failed while judging. A verifier
// that raises on the answer is not one of them: that answer failed.
bool infrastructure_error(const agents::RolloutResult& r) {
  return r.sandbox_error || r.trajectory.stop_reason == agents::StopReason::kBackendError ||
         r.trajectory.stop_reason == agents::StopReason::kToolFailure;
}

// Everything stored must be valid UTF-8: ill-formed bytes anywhere in the record (a server's
// error page, a tool's cut output) are replaced, so one attempt can never make its item
// unstorable.
json storable(const json& value) {
  return json::parse(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

data::RolloutRecord record_of(const agents::RolloutResult& r, const std::string& model, int attempt,
                              bool shaped) {
  data::RolloutRecord rec;
  rec.model = model;
  rec.attempt = attempt;
  const double partial = r.answered && !r.verifier_error ? r.score : 0.0;
  json t = r.trajectory.to_json();
  t["verdict"] = {{"answered", r.answered}, {"pass", r.pass},        {"score", r.score},
                  {"reason", r.reason},     {"verifier_error", r.verifier_error}, {"sandbox_error", r.sandbox_error},
                  {"error", infrastructure_error(r)}, {"raw", r.verdict}, {"verify_ms", r.verify_ms},
                  {"seed", r.seed},
                  {"reward", {{"mode", shaped ? "shaped" : "binary"}, {"pass", r.pass ? 1.0 : 0.0},
                              {"partial_score", partial}}}};
  rec.trajectory = storable(t);
  rec.reward = shaped ? partial : (r.pass ? 1.0 : 0.0);
  rec.passed = r.pass;
  rec.prompt_tokens = r.trajectory.prompt_tokens;
  rec.completion_tokens = r.trajectory.completion_tokens;
  rec.started_at_ms = r.started_at_ms;
  rec.wall_ms = static_cast<int64_t>(r.trajectory.wall_ms + r.verify_ms);
  return rec;
}

}  // namespace

bool KeepBand::keeps(double rate) const {
  return inclusive ? (rate >= min && rate <= max) : (rate > min && rate < max);
}

bool KeepBand::empty() const { return inclusive ? min > max : min >= max; }

std::string KeepBand::describe() const {
  return std::string(inclusive ? "[" : "(") + number(min) + ", " + number(max) + (inclusive ? "]" : ")");
}

RolloutStageStats& RolloutStageStats::operator+=(const RolloutStageStats& o) {
  tasks += o.tasks;
  attempts += o.attempts;
  passes += o.passes;
  errors += o.errors;
  scored_tasks += o.scored_tasks;
  kept += o.kept;
  filtered += o.filtered;
  pass_rate_sum += o.pass_rate_sum;
  for (const auto& [k, v] : o.pass_at_sum) pass_at_sum[k] += v;
  for (const auto& [k, v] : o.pass_at_tasks) pass_at_tasks[k] += v;
  ms += o.ms;
  return *this;
}

json RolloutStageStats::to_json() const {
  const double n = static_cast<double>(scored_tasks);
  json pass_at = json::object();
  for (const auto& [k, v] : pass_at_sum) pass_at[std::to_string(k)] = v / static_cast<double>(pass_at_tasks.at(k));
  return {{"tasks", tasks},
          {"attempts", attempts},
          {"passes", passes},
          {"errors", errors},
          {"scored_tasks", scored_tasks},
          {"kept", kept},
          {"filtered", filtered},
          {"mean_pass_rate", scored_tasks ? json(pass_rate_sum / n) : json(nullptr)},
          {"mean_pass_at", pass_at},
          {"ms", ms}};
}

RolloutStageStats run_rollout_stage(data::WorkItem& item, SolverSource& solver, const RolloutStageOptions& o) {
  RolloutStageStats stats;
  if (o.attempts < 1) throw std::invalid_argument("rollouts: the number of attempts must be positive");
  bool any = false;
  for (const auto& t : item.tasks) any = any || t.status == data::TaskStatus::kUsable;
  if (!any) return stats;
  const auto start = Clock::now();
  const data::EnvironmentRecord& e = item.environment;
  agents::RolloutEnvironment env;
  env.system_prompt = e.system_prompt;
  for (const auto& tool : e.tools) env.tools.push_back(tool.schema);
  env.tools_py = e.tools_code;
  std::optional<WorldFile> world;
  if (!e.world_db.empty()) {
    world.emplace(o.scratch_dir, item.key, e.world_db);
    env.world_db = world->path();
  }
  const std::string model = solver.spec();

  for (auto& t : item.tasks) {
    if (t.status != data::TaskStatus::kUsable) continue;
    // The task's identity is what the generator made; what the solver did is an observation of it.
    if (t.content_hash.empty()) t.content_hash = data::task_content_hash(t);
    env.verify_py = t.verifier_code;
    agents::RolloutTask task;
    task.prompt = t.prompt;
    task.task = t.metadata.contains("task") ? t.metadata["task"] : t.metadata;
    task.answer_schema = t.answer_schema.empty() ? json(nullptr) : t.answer_schema;
    const json context = {{"reference", t.reference_solution}, {"task", task.task},
                          {"prompt", t.prompt}, {"difficulty", t.difficulty}};
    agents::RolloutBatch batch = agents::run_rollouts(
        [&](int attempt) { return solver.backend_for(context, attempt); }, env, task, o.rollout,
        o.attempts, o.parallel, seed_of(t.content_hash));

    int scored = 0, passes = 0;
    double reward_sum = 0, partial_sum = 0;
    for (size_t i = 0; i < batch.results.size(); ++i) {
      const auto& r = batch.results[i];
      t.rollouts.push_back(record_of(r, model, static_cast<int>(i), o.shaped_rewards));
      if (infrastructure_error(r)) continue;
      ++scored;
      passes += r.pass;
      reward_sum += t.rollouts.back().reward;
      partial_sum += t.rollouts.back().trajectory["verdict"]["reward"]["partial_score"].get<double>();
    }
    ++stats.tasks;
    stats.attempts += batch.results.size();
    stats.passes += static_cast<uint64_t>(passes);
    stats.errors += batch.results.size() - static_cast<size_t>(scored);

    json summary = {{"solver", model},
                    {"attempts", o.attempts},
                    {"scored", scored},
                    {"errors", o.attempts - scored},
                    {"passes", passes},
                    {"keep_band", o.keep.describe()},
                    {"rewards", o.shaped_rewards ? "shaped" : "binary"}};
    if (scored == 0) {
      // No evidence about the task's difficulty: the policy does not judge it.
      summary["pass_rate"] = nullptr;
      summary["kept"] = nullptr;
      summary["note"] = "no attempt was scored; the keep policy was not applied";
    } else {
      const double rate = static_cast<double>(passes) / scored;
      json pass_at = json::object();
      auto estimate = [&](int k) {
        const double p = agents::pass_at_k(scored, passes, k);
        pass_at[std::to_string(k)] = p;
        stats.pass_at_sum[k] += p;
        ++stats.pass_at_tasks[k];
      };
      int k = 1;
      for (; k * 2 <= scored; k *= 2) estimate(k);
      estimate(k);
      if (k != scored) estimate(scored);
      const bool keep = o.keep.keeps(rate);
      summary["pass_rate"] = rate;
      summary["mean_reward"] = reward_sum / scored;
      summary["mean_partial_score"] = partial_sum / scored;
      summary["pass_at"] = pass_at;
      summary["kept"] = keep;
      ++stats.scored_tasks;
      stats.pass_rate_sum += rate;
      if (keep) {
        ++stats.kept;
      } else {
        ++stats.filtered;
        char rate_text[32];
        std::snprintf(rate_text, sizeof rate_text, "%.2f", rate);
        t.status = data::TaskStatus::kRejected;
        t.reject_reason = std::string(kKeepPolicyReason) + "pass rate " + rate_text + " outside " +
                          o.keep.describe();
      }
    }
    t.metadata["rollouts"] = std::move(summary);
  }
  stats.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return stats;
}

}  // namespace envforge::generators
