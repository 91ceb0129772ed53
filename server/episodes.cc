#include "server/episodes.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include <spdlog/spdlog.h>

#include "agents/argument_check.h"
#include "generators/answer_judge.h"
#include "generators/work_util.h"
#include "server/audit_web/audit_web.h"

namespace envforge::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kHardLimitGrace = std::chrono::seconds(2);  // past the in-box soft limit

int64_t steady_ns() { return Clock::now().time_since_epoch().count(); }

// Runs a task's verifier through the episode module, so that it sees the episode's world;
// generators::judge_answer does the rest (shape checks, verdict, digests).
class EpisodeVerifier : public generators::PythonExecutor {
 public:
  EpisodeVerifier(SlotCalls& calls, const std::string* token, const ServedTask& task, std::chrono::milliseconds timeout)
      : calls_(calls), token_(token), task_(task), timeout_(timeout) {}
  verifiers::PythonResult call(std::string_view, std::string_view, const json& args) override {
    const json a = {{"episode", token_ ? json(*token_) : json(nullptr)},
                    {"module", task_.verify_module},
                    {"answer", args.contains("answer") ? args["answer"] : json(nullptr)},
                    {"task", args.contains("task") ? args["task"] : json(nullptr)},
                    {"timeout_s", static_cast<double>(timeout_.count()) / 1000.0}};
    return calls_.call("envforge_episode", "verify", a, timeout_ + kHardLimitGrace);
  }
  std::string world_path() const override { return std::string(verifiers::kWorldDbPath); }

 private:
  SlotCalls& calls_;
  const std::string* token_;
  const ServedTask& task_;
  std::chrono::milliseconds timeout_;
};

// A tool failure as OpenEnv's ToolError {error_type, message}.
json tool_error(const verifiers::PythonResult& r, std::chrono::milliseconds timeout) {
  namespace et = verifiers::error_type;
  if (r.error_type == "CallTimeout" || r.error_type == et::kTimeout)
    return {{"error_type", "timeout"},
            {"message", "the tool ran past its " + std::to_string(timeout.count()) + " ms limit"}};
  if (r.error_type == et::kSandboxError || r.error_type == et::kCrash || r.error_type == et::kMemoryLimit ||
      r.error_type == et::kPolicy || r.error_type == et::kOutputLimit)
    return {{"error_type", "transport_error"}, {"message", r.error_type + ": " + r.message}};
  std::string message = r.error_type.empty() ? "error" : r.error_type;
  if (!r.message.empty()) message += ": " + r.message;
  return {{"error_type", "execution_error"}, {"message", message}};
}

Failure validation(std::string message) { return {code::kValidation, std::move(message)}; }

json response(json observation, json reward, bool done) {
  return {{"observation", std::move(observation)}, {"reward", std::move(reward)}, {"done", done}};
}

}  // namespace

json Failure::to_json() const {
  json d = extra.is_object() ? extra : json::object();
  d["message"] = message;
  d["code"] = code;
  return d;
}

void Episode::touch() { last_active_ns = steady_ns(); }

std::string random_token() {
  static thread_local std::random_device rd;  // /dev/urandom
  static const char* hex = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 32; i += 8) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j) s[i + j] = hex[(v >> (4 * j)) & 15];
  }
  return s;
}

EpisodeService::EpisodeService(const ServeOptions& options)
    : options_(options),
      catalog_(options.corpus, options.scratch_dir),
      writer_(options.corpus),
      pool_(options.pool) {}

EpisodeService::~EpisodeService() { end_all("shutdown"); }

EpisodeService::Started EpisodeService::start(const json& r, bool recorded) {
  if (draining_) return Failure{code::kShuttingDown, "the server is shutting down; no new episodes"};
  if (!r.is_object()) return validation("reset data must be a JSON object");
  auto field = [&](const char* k) -> const json* {
    auto it = r.find(k);
    return it == r.end() || it->is_null() ? nullptr : &*it;
  };
  uint64_t seed = 0;
  if (const json* s = field("seed")) {
    if (!s->is_number_integer() || (s->is_number_integer() && !s->is_number_unsigned() && s->get<int64_t>() < 0))
      return validation("seed must be an integer >= 0");
    seed = s->get<uint64_t>();
  } else {
    seed = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  }
  std::string episode_id, task_id, model = "served";
  data::TaskFilter filter;
  filter.usable_only = true;
  for (auto [key, out] : {std::pair{"episode_id", &episode_id}, std::pair{"task_id", &task_id},
                          std::pair{"category", &filter.category}, std::pair{"model", &model}}) {
    if (const json* v = field(key)) {
      if (!v->is_string()) return validation(std::string(key) + " must be a string");
      *out = v->get<std::string>();
    }
  }
  if (episode_id.size() > 255) return validation("episode_id must be at most 255 characters");
  if (model.empty() || model.size() > 255) return validation("model must be 1 to 255 characters");
  if (const json* d = field("difficulty")) {
    if (!d->is_number_integer()) return validation("difficulty must be an integer");
    filter.difficulty = d->get<int>();
  }
  if (const json* u = field("usable_only")) {
    if (!u->is_boolean()) return validation("usable_only must be a boolean");
    filter.usable_only = u->get<bool>();
  }
  const TaskIndexEntry* entry = nullptr;
  if (!task_id.empty()) {
    entry = catalog_.task(task_id);
    if (!entry) return validation("no task with id '" + task_id + "' in the corpus");
  } else {
    entry = catalog_.pick(filter, seed);
    if (!entry) return validation("no task matches the filter (category '" + filter.category + "', difficulty " +
                                  (filter.difficulty ? std::to_string(*filter.difficulty) : std::string("any")) +
                                  (filter.usable_only ? ", usable only)" : ")"));
  }
  std::shared_ptr<const ServedEnvironment> env;
  try {
    env = catalog_.environment(entry->env_id);
  } catch (const std::exception& ex) {
    return Failure{code::kExecution, std::string("cannot load the environment: ") + ex.what()};
  }
  auto task = env->tasks.find(entry->id);
  if (task == env->tasks.end()) return Failure{code::kExecution, "task " + entry->id + " vanished from the corpus"};

  auto e = std::make_shared<Episode>();
  e->session_id = "ep-" + random_token();
  e->episode_id = episode_id.empty() ? e->session_id : episode_id;
  e->world_token = random_token();
  e->model = model;
  e->env = env;
  e->task = &task->second;
  e->recorded = recorded;
  e->started_at_ms = generators::unix_now_ms();
  e->started = Clock::now();
  e->touch();
  e->messages = json::array({{{"role", "system"}, {"content", env->system_prompt}},
                             {{"role", "user"}, {"content", task->second.prompt}}});
  {
    std::lock_guard lock(mu_);
    if (live_.size() >= static_cast<size_t>(options_.max_episodes))
      return Failure{code::kCapacity,
                     "the server holds its maximum of " + std::to_string(options_.max_episodes) +
                         " live episodes; retry when some have finished",
                     {{"active_sessions", live_.size()}, {"max_sessions", options_.max_episodes}}};
    live_.emplace(e->session_id, e);
  }
  e->slot = pool_.pin(env->code);
  if (!e->slot) {
    std::lock_guard lock(mu_);
    live_.erase(e->session_id);
    return Failure{code::kCapacity, "every sandbox session is held by other environments' episodes; retry later",
                   {{"active_sessions", live_.size()}, {"max_sessions", options_.max_episodes}}};
  }
  ++started_;
  return e;
}

json EpisodeService::reset_response(const Episode& e) const {
  const ServedTask& t = *e.task;
  json obs = {{"episode_id", e.episode_id},
              {"task_id", t.id},
              {"environment_id", e.env->id},
              {"category", e.env->category},
              {"difficulty", t.difficulty},
              {"prompt", t.prompt},
              {"messages", json::array({{{"role", "system"}, {"content", e.env->system_prompt}},
                                        {{"role", "user"}, {"content", t.prompt}}})},
              {"tools", t.tools},
              {"answer_schema", t.answer_schema},
              {"tool_name", nullptr},
              {"result", nullptr},
              {"error", nullptr},
              {"step_count", 0},
              {"budget",
               {{"max_steps", options_.max_steps},
                {"wall_s", options_.episode_wall.count()},
                {"idle_s", options_.idle.count()},
                {"call_timeout_s", static_cast<double>(options_.call_timeout.count()) / 1000.0}}}};
  return response(std::move(obs), nullptr, false);
}

std::variant<json, Failure> EpisodeService::reset_stateless(const json& reset) {
  auto started = start(reset, false);
  if (auto* f = std::get_if<Failure>(&started)) return *f;
  auto e = std::get<std::shared_ptr<Episode>>(started);
  json out = reset_response(*e);
  end(e, "stateless");
  return out;
}

json EpisodeService::mcp_tools(const Episode& e) const {
  json tools = json::array();
  for (const auto& t : e.task->tools) {
    const json& fn = t["function"];
    tools.push_back({{"name", fn.value("name", "")},
                     {"description", fn.value("description", "")},
                     {"input_schema", fn.value("parameters", json::object())}});
  }
  return tools;
}

json EpisodeService::state(const Episode* e) const {
  if (!e) return {{"episode_id", nullptr}, {"step_count", 0}};
  std::lock_guard lock(const_cast<Episode*>(e)->mu);
  return {{"episode_id", e->episode_id}, {"step_count", e->steps}, {"task_id", e->task->id},
          {"done", e->done}, {"reward", e->done ? json(e->reward) : json(nullptr)}};
}

void EpisodeService::step(const std::shared_ptr<Episode>& e, const json& action, StepDone done) {
  if (!action.is_object()) return done(validation("the action must be a JSON object"));
  const auto type_it = action.find("type");
  if (type_it == action.end() || !type_it->is_string())
    return done(validation("the action needs a string \"type\": call_tool, submit or list_tools"));
  const std::string type = type_it->get<std::string>();
  std::chrono::milliseconds timeout = options_.call_timeout;
  if (auto t = action.find("timeout_s"); t != action.end() && !t->is_null()) {
    if (!t->is_number() || t->get<double>() <= 0) return done(validation("timeout_s must be a number > 0"));
    timeout = std::min(timeout, std::chrono::milliseconds(static_cast<int64_t>(t->get<double>() * 1000) + 1));
  }
  e->touch();
  std::unique_lock lock(e->mu);
  if (e->ended && e->end_reason == "expired")
    return lock.unlock(), done(Failure{code::kEpisodeExpired, "the episode was ended after " +
                                                              std::string("its idle or wall budget ran out")});
  if (e->done) return lock.unlock(), done(Failure{code::kEpisodeDone, "the episode is over; reset to start another"});
  if (e->busy) return lock.unlock(), done(validation("a step of this episode is still running"));

  if (type == "list_tools") {
    json obs = {{"episode_id", e->episode_id}, {"tools", mcp_tools(*e)}, {"step_count", e->steps}};
    lock.unlock();
    return done(response(std::move(obs), nullptr, false));
  }
  json answer;
  std::string tool;
  json args = json::object();
  if (type == "submit") {
    if (!action.contains("answer")) return lock.unlock(), done(validation("a submit action needs \"answer\""));
    answer = action["answer"];
  } else if (type == "call_tool") {
    auto n = action.find("tool_name");
    if (n == action.end() || !n->is_string() || n->get<std::string>().empty())
      return lock.unlock(), done(validation("call_tool needs a string \"tool_name\""));
    tool = n->get<std::string>();
    if (auto a = action.find("arguments"); a != action.end() && !a->is_null()) {
      if (!a->is_object()) return lock.unlock(), done(validation("\"arguments\" must be a JSON object"));
      args = *a;
    }
    if (tool == kSubmitTool) {
      if (!args.contains("answer")) {
        ++e->steps;
        json obs = {{"episode_id", e->episode_id}, {"tool_name", tool}, {"step_count", e->steps}, {"result", nullptr},
                    {"error", {{"error_type", "invalid_args"}, {"message", "missing required argument \"answer\""}}}};
        lock.unlock();
        return done(response(std::move(obs), nullptr, false));
      }
      answer = args["answer"];
    }
  } else {
    return lock.unlock(), done(validation("unknown action type '" + type + "' (call_tool, submit, list_tools)"));
  }

  if (!tool.empty() && tool != kSubmitTool) {
    if (e->steps >= options_.max_steps) {
      json obs = {{"episode_id", e->episode_id}, {"tool_name", tool}, {"step_count", e->steps}, {"result", nullptr},
                  {"error", {{"error_type", "budget_exhausted"},
                             {"message", "the episode's budget of " + std::to_string(options_.max_steps) +
                                             " tool calls is spent"}}}};
      e->done = true;
      e->reward = 0;
      lock.unlock();
      end(e, "budget");
      return done(response(std::move(obs), 0.0, true));
    }
    ++e->steps;
    auto params = e->env->tool_parameters.find(tool);
    std::optional<std::string> bad;
    if (params == e->env->tool_parameters.end())
      bad = "no tool named '" + tool + "'";
    else
      bad = agents::check_arguments(params->second, args);
    if (bad) {
      const bool missing = params == e->env->tool_parameters.end();
      json err = {{"error_type", missing ? "tool_not_found" : "invalid_args"}, {"message", *bad}};
      e->messages.push_back({{"role", "assistant"}, {"tool_calls", {{{"name", tool}, {"arguments", args}}}}});
      e->messages.push_back({{"role", "tool"}, {"name", tool}, {"error", err}});
      json obs = {{"episode_id", e->episode_id}, {"tool_name", tool}, {"step_count", e->steps}, {"result", nullptr},
                  {"error", std::move(err)}};
      lock.unlock();
      return done(response(std::move(obs), nullptr, false));
    }
    e->busy = true;
    lock.unlock();
    return run_tool(e, tool, args, timeout, std::move(done));
  }
  ++e->steps;
  e->busy = true;
  lock.unlock();
  run_submit(e, answer, std::move(done));
}

void EpisodeService::run_tool(const std::shared_ptr<Episode>& e, const std::string& tool, const json& args,
                              std::chrono::milliseconds timeout, StepDone done) {
  e->slot->post([this, e, tool, args, timeout, done = std::move(done)](SlotCalls& calls) {
    bool lost = false;
    std::optional<Failure> gone;
    {
      std::lock_guard lock(e->mu);
      if (e->ended) {
        e->busy = false;
        gone = Failure{e->end_reason == "expired" ? code::kEpisodeExpired : code::kEpisodeDone,
                       "the episode ended (" + e->end_reason + ") before the call ran"};
      }
      lost = e->world_made && calls.epoch() != e->world_epoch;
      if (lost) {
        e->busy = false;
        e->done = true;
      }
      if (!gone && !e->world_made) {
        e->world_made = true;
        e->world_epoch = calls.epoch();
      }
    }
    if (gone) return done(*gone);  // outside the lock: `done` may end the episode
    if (lost) {
      end(e, "sandbox_lost");
      return done(Failure{code::kExecution,
                          "the sandbox holding this episode's world had to restart (a call ran past its hard limit "
                          "or crashed it); the episode ended"});
    }
    const json call_args = {{"episode", e->world_token}, {"name", tool}, {"arguments", args},
                            {"timeout_s", static_cast<double>(timeout.count()) / 1000.0}};
    verifiers::PythonResult r = calls.call("envforge_episode", "tool", call_args, timeout + kHardLimitGrace);
    ++tool_calls_;
    e->touch();
    json obs = {{"episode_id", e->episode_id}, {"tool_name", tool}};
    std::unique_lock lock(e->mu);
    e->busy = false;
    obs["step_count"] = e->steps;
    const std::string call_id = "call_" + std::to_string(e->steps);
    e->messages.push_back({{"role", "assistant"},
                           {"content", ""},
                           {"tool_calls", {{{"id", call_id}, {"type", "function"},
                                            {"function", {{"name", tool}, {"arguments", args.dump()}}}}}}});
    if (r.ok) {
      e->messages.push_back({{"role", "tool"}, {"tool_call_id", call_id}, {"name", tool}, {"content", r.value.dump()}});
      obs["result"] = std::move(r.value);
      obs["error"] = nullptr;
    } else {
      json err = tool_error(r, timeout);
      e->messages.push_back({{"role", "tool"}, {"tool_call_id", call_id}, {"name", tool},
                             {"content", "error: " + err["message"].get<std::string>()}});
      obs["result"] = nullptr;
      obs["error"] = std::move(err);
    }
    lock.unlock();  // `done` may end the episode, which takes the lock
    done(response(std::move(obs), nullptr, false));
  });
}

Verdict EpisodeService::judge(SlotCalls& calls, const std::string* world_token, const ServedTask& task,
                              const json& answer) {
  EpisodeVerifier py(calls, world_token, task, options_.verify_timeout);
  const auto j = generators::judge_answer(py, task.verify_task, answer, "serve", 0, true);
  Verdict v;
  const bool pass = j.record.verdict == "pass";
  v.components = {{"pass", pass}, {"score", j.record.score}, {"reason", j.record.reason}, {"verdict", j.record.verdict}};
  if (j.record.verdict == "error") v.reward = 0;
  else v.reward = options_.reward_is_score ? j.record.score : (pass ? 1.0 : 0.0);
  return v;
}

void EpisodeService::run_submit(const std::shared_ptr<Episode>& e, const json& answer, StepDone done) {
  e->slot->post([this, e, answer, done = std::move(done)](SlotCalls& calls) {
    bool world = false;
    std::optional<Failure> gone;
    {
      std::lock_guard lock(e->mu);
      if (e->ended) {
        e->busy = false;
        gone = Failure{e->end_reason == "expired" ? code::kEpisodeExpired : code::kEpisodeDone,
                       "the episode ended (" + e->end_reason + ") before the answer was judged"};
      }
      world = e->world_made && calls.epoch() == e->world_epoch;
      if (!gone && e->world_made && !world) {
        e->busy = false;
        e->done = true;
      }
    }
    if (gone) return done(*gone);
    if (e->world_made && !world) {
      end(e, "sandbox_lost");
      return done(Failure{code::kExecution, "the sandbox holding this episode's world had to restart; the episode ended"});
    }
    const Verdict v = judge(calls, world ? &e->world_token : nullptr, *e->task, answer);
    e->touch();
    json obs = {{"episode_id", e->episode_id}, {"tool_name", kSubmitTool}};
    {
      std::lock_guard lock(e->mu);
      e->busy = false;
      e->done = true;
      e->reward = v.reward;
      e->passed = v.components["pass"].get<bool>();
      e->verdict = v.components;
      e->messages.push_back({{"role", "assistant"},
                             {"content", ""},
                             {"tool_calls", {{{"id", "call_submit"}, {"type", "function"},
                                              {"function", {{"name", kSubmitTool},
                                                            {"arguments", json{{"answer", answer}}.dump()}}}}}}});
      obs["step_count"] = e->steps;
    }
    obs["result"] = {{"pass", v.components["pass"]}, {"score", v.components["score"]}, {"reason", v.components["reason"]}};
    obs["components"] = v.components;
    obs["error"] = nullptr;
    end(e, "submit");
    done(response(std::move(obs), v.reward, true));
  });
}

void EpisodeService::verify(const std::string& task_id, const json& answer, VerifyDone done) {
  const TaskIndexEntry* entry = catalog_.task(task_id);
  if (!entry) return done(validation("no task with id '" + task_id + "' in the corpus"));
  std::shared_ptr<const ServedEnvironment> env;
  try {
    env = catalog_.environment(entry->env_id);
  } catch (const std::exception& ex) {
    return done(Failure{code::kExecution, std::string("cannot load the environment: ") + ex.what()});
  }
  auto task = env->tasks.find(task_id);
  if (task == env->tasks.end()) return done(Failure{code::kExecution, "task " + task_id + " vanished from the corpus"});
  const ServedTask* t = &task->second;
  auto job = [this, env, t, answer, done](SlotCalls& calls) { done(judge(calls, nullptr, *t, answer)); };
  if (!pool_.post_anywhere(env->code, job))
    done(Failure{code::kCapacity, "every sandbox session is held by other environments' episodes; retry later"});
}

void EpisodeService::end(const std::shared_ptr<Episode>& e, const std::string& reason) {
  std::optional<data::RolloutRecord> rec;
  bool drop = false;
  {
    std::lock_guard lock(e->mu);
    if (e->ended) return;
    e->ended = true;
    e->done = true;
    e->end_reason = reason;
    drop = e->world_made;
    if (e->recorded) {
      data::RolloutRecord r;
      r.task_id = e->task->id;
      r.model = e->model;
      r.attempt = 0;
      r.trajectory = {{"source", "serve"},
                      {"episode_id", e->episode_id},
                      {"session_id", e->session_id},
                      {"environment_id", e->env->id},
                      {"messages", e->messages},
                      {"steps", e->steps},
                      {"end", e->end_reason},
                      {"verdict", e->verdict.is_null() ? json(nullptr) : e->verdict}};
      r.reward = reason == "submit" ? e->reward : 0.0;
      r.passed = reason == "submit" && e->passed;
      r.started_at_ms = e->started_at_ms;
      r.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - e->started).count();
      rec = std::move(r);
    }
  }
  {
    std::lock_guard lock(mu_);
    live_.erase(e->session_id);
  }
  if (e->slot) {
    // Queued behind any call still running for the episode; posted while pinned, so the slot
    // still runs it.
    if (drop) {
      const std::string token = e->world_token;
      e->slot->post([token](SlotCalls& calls) {
        if (calls.start_error().empty())
          calls.call("envforge_episode", "drop", {{"episodes", json::array({token})}}, std::chrono::seconds(30));
      });
    }
    pool_.unpin(e->slot);
  }
  ++finished_;
  if (rec) writer_.add(std::move(*rec));
}

std::shared_ptr<Episode> EpisodeService::find(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = live_.find(session_id);
  return it == live_.end() ? nullptr : it->second;
}

void EpisodeService::reap() {
  std::vector<std::shared_ptr<Episode>> expired;
  const int64_t now = steady_ns();
  const auto now_tp = Clock::now();
  {
    std::lock_guard lock(mu_);
    for (auto& [id, e] : live_) {
      const bool idle = now - e->last_active_ns.load() > std::chrono::nanoseconds(options_.idle).count();
      const bool overlong = now_tp - e->started > options_.episode_wall;
      if (idle || overlong) expired.push_back(e);
    }
  }
  for (auto& e : expired) {
    {
      std::lock_guard lock(e->mu);
      if (e->busy) continue;  // a running call has its own limit
    }
    end(e, "expired");
  }
  pool_.close_idle();
}

void EpisodeService::end_all(const std::string& reason) {
  std::vector<std::shared_ptr<Episode>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, e] : live_) all.push_back(e);
  }
  for (auto& e : all) end(e, reason);
  writer_.flush();
}

size_t EpisodeService::live() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

json EpisodeService::stats() const {
  return {{"live_episodes", live()},
          {"max_episodes", options_.max_episodes},
          {"sandbox_sessions", pool_.sessions()},
          {"tool_calls", tool_calls_.load()},
          {"episodes_started", started_.load()},
          {"episodes_finished", finished_.load()},
          {"rollouts_recorded", writer_.recorded()},
          {"rollouts_failed", writer_.failed()},
          {"rollouts_pending", writer_.pending()},
          {"draining", draining_.load()}};
}

}  // namespace envforge::server
