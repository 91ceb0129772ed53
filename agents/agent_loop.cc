#include "agents/agent_loop.h"

#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "agents/argument_check.h"
#include "agents/chat_json.h"
#include "model/text/utf8.h"

namespace envforge::agents {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

model::ChatMessage make_message(std::string role, std::string content) {
  model::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Offered tools by name -> their "parameters" schema.
std::map<std::string, json> index_tools(const std::vector<model::ToolSchema>& tools) {
  std::map<std::string, json> out;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    const json* fn = t.is_object() && t.contains("function") ? &t["function"] : nullptr;
    if (!fn || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string())
      throw std::invalid_argument("agent tools[" + std::to_string(i) +
                                  "]: expected {\"type\":\"function\",\"function\":{\"name\":...}}");
    out[(*fn)["name"].get<std::string>()] = fn->value("parameters", json::object());
  }
  return out;
}

// Rough count for backends that report no usage: about four characters a token.
std::int64_t estimate_tokens(std::size_t chars) { return static_cast<std::int64_t>((chars + 3) / 4); }

std::size_t message_chars(const model::ChatMessage& m) {
  std::size_t n = m.content.size() + m.reasoning.size() + 8;
  for (const auto& c : m.tool_calls) n += c.name.size() + c.arguments.dump().size();
  return n;
}

// At most max_chars bytes of valid UTF-8 (cut on a character boundary, ill-formed bytes
// replaced), saying so when cut: what the model sees and the trajectory stores.
std::string cut(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars) return model::text::sanitize_utf8(text);
  std::string_view head = std::string_view(text).substr(0, max_chars);
  head.remove_suffix(model::text::incomplete_utf8_suffix(head));
  return model::text::sanitize_utf8(head) + "\n[... cut: the result was " + std::to_string(text.size()) +
         " characters, only the first " + std::to_string(max_chars) + " are shown]";
}

// Tool call ids must be unique within the message so that results can be matched.
void fix_call_ids(model::ChatMessage& m, int turn) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < m.tool_calls.size(); ++i) {
    auto& c = m.tool_calls[i];
    if (c.id.empty() || !seen.insert(c.id).second) {
      c.id = "call_" + std::to_string(turn) + "_" + std::to_string(i);
      seen.insert(c.id);
    }
  }
}

struct Run {
  Backend& backend;
  ToolExecutor& executor;
  const AgentConfig& config;
  std::map<std::string, json> tools;
  Clock::time_point start = Clock::now();
  std::optional<Clock::time_point> deadline;
  Trajectory traj;
  bool stopped = false;

  void stop(StopReason reason, std::string why = {}) {
    traj.stop_reason = reason;
    traj.error = std::move(why);
    stopped = true;
  }

  bool out_of_time() const { return deadline && Clock::now() >= *deadline; }
  // A call given the run's deadline times out at it, give or take the backends' whole-millisecond
  // timers: a timeout that close to the deadline spent the run's budget.
  bool timed_out_at_deadline() const {
    return deadline && Clock::now() + std::chrono::milliseconds(20) >= *deadline;
  }

  void run(const std::string& task) {
    traj.backend = backend.describe();
    prepare_request();
    if (!config.system_prompt.empty()) req.messages.push_back(make_message("system", config.system_prompt));
    req.messages.push_back(make_message("user", task));
    for (int turn = 0; !stopped; ++turn) {
      if (turn >= config.budget.max_turns) {
        stop(StopReason::kMaxTurns, "no final answer after " + std::to_string(turn) + " turns");
        break;
      }
      if (out_of_time()) {
        stop(StopReason::kTimeBudget, "the run's time budget is spent");
        break;
      }
      model_turn(turn);
      if (!stopped) check_token_budget();
    }
    traj.messages = std::move(req.messages);
    traj.wall_ms = ms_since(start);
  }

  // The conversation lives in the request, which grows turn by turn (no copy per turn); it
  // moves into the trajectory at the end.
  ChatRequest req;

  void prepare_request() {
    req.tools = config.tools;
    if (!config.tools.empty()) req.tool_choice = config.tool_choice;
    req.stream = config.stream;
    req.deadline = deadline;
  }

  void limit_tokens() {
    req.sampling = config.sampling;
    if (config.budget.max_completion_tokens > 0) {  // never ask for more than is left
      std::int64_t left = config.budget.max_completion_tokens - traj.completion_tokens;
      if (left < 1) left = 1;
      if (!req.sampling.max_tokens || *req.sampling.max_tokens > left)
        req.sampling.max_tokens = static_cast<int>(std::min<std::int64_t>(left, 1 << 30));
    }
  }

  void model_turn(int turn) {
    limit_tokens();
    ChatResponse reply;
    try {
      reply = backend.chat(req, config.on_stream);
    } catch (const BackendError& e) {
      if (e.kind() == BackendErrorKind::kTimeout && timed_out_at_deadline())
        stop(StopReason::kTimeBudget, std::string("the run's time budget ran out in a model call: ") + e.what());
      else
        stop(StopReason::kBackendError, std::string(to_string(e.kind())) + " error: " + e.what());
      return;
    }
    TurnRecord rec;
    rec.finish_reason = reply.finish_reason;
    rec.timing = reply.timing;
    rec.usage = reply.usage;
    if (!reply.usage.reported) {
      std::size_t prompt_chars = 0;
      for (const auto& m : req.messages) prompt_chars += message_chars(m);
      rec.usage.prompt_tokens = estimate_tokens(prompt_chars);
      rec.usage.completion_tokens = estimate_tokens(message_chars(reply.message));
      rec.tokens_estimated = true;
      traj.tokens_estimated = true;
    }
    traj.prompt_tokens += rec.usage.prompt_tokens;
    traj.completion_tokens += rec.usage.completion_tokens;
    traj.model_ms += reply.timing.wall_ms;
    reply.message.role = "assistant";
    fix_call_ids(reply.message, turn);
    req.messages.push_back(std::move(reply.message));
    traj.turns.push_back(std::move(rec));
    const model::ChatMessage& assistant = req.messages.back();

    if (assistant.tool_calls.empty()) {
      traj.final_answer = assistant.content;
      if (reply.finish_reason == "length")
        stop(StopReason::kLength, "the reply was cut at max_tokens");
      else
        stop(StopReason::kFinalAnswer);
      return;
    }
    // run_tool appends to req.messages, so walk the calls by index of a stable copy.
    const std::vector<model::ToolCall> calls = assistant.tool_calls;
    for (const auto& call : calls) {
      if (stopped) break;
      run_tool(call);
    }
  }

  void answer_tool(const model::ToolCall& call, ToolExecution& x) {
    x.ok = true;
    x.result = "answer recorded";
    traj.final_answer = call.arguments;
    stop(StopReason::kFinalAnswer);
  }

  void run_tool(const model::ToolCall& call) {
    ToolExecution x;
    x.call_id = call.id;
    x.name = call.name;
    x.arguments = call.arguments;
    ++traj.tool_calls;
    auto known = tools.find(call.name);
    if (arguments_malformed(call)) {
      x.error = "tool call \"" + call.name + "\": " + malformed_arguments_reason(call);
    } else if (known == tools.end()) {
      std::string names;
      for (const auto& [n, _] : tools) names += (names.empty() ? "" : ", ") + n;
      x.error = "unknown tool \"" + call.name + "\"; available tools: " +
                (names.empty() ? "none" : names);
    } else if (auto bad = check_arguments(known->second, call.arguments)) {
      x.error = "tool \"" + call.name + "\": " + *bad;
    } else if (call.name == config.final_answer_tool) {
      answer_tool(call, x);
    } else {
      std::chrono::milliseconds timeout = config.tool_timeout;
      if (deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
        timeout = std::max(std::chrono::milliseconds(1), std::min(timeout, left));
      }
      auto t0 = Clock::now();
      ToolOutcome out = executor.call(call.name, call.arguments, timeout);
      x.wall_ms = out.wall_ms > 0 ? out.wall_ms : ms_since(t0);
      traj.tool_ms += x.wall_ms;
      x.ok = out.ok;
      if (out.ok) x.result = std::move(out.value);
      else x.error = "tool \"" + call.name + "\" failed: " + out.error;
      if (out.fatal) stop(StopReason::kToolFailure, x.error);
    }
    if (!x.ok) ++traj.tool_errors;
    else if (x.result.is_object() && x.result.contains("error")) ++traj.tool_errors;
    model::ChatMessage result;
    result.role = "tool";
    result.tool_call_id = call.id;
    result.name = call.name;
    if (x.ok) {
      std::string text = x.result.is_string() ? x.result.get<std::string>()
                                              : x.result.dump(-1, ' ', false, json::error_handler_t::replace);
      result.content = cut(text, config.max_tool_result_chars);
    } else {
      x.error = model::text::sanitize_utf8(x.error);
      result.content = json{{"error", x.error}}.dump();
    }
    req.messages.push_back(std::move(result));
    traj.turns.back().tools.push_back(std::move(x));
  }

  void check_token_budget() {
    const AgentBudget& b = config.budget;
    if (b.max_completion_tokens > 0 && traj.completion_tokens >= b.max_completion_tokens) {
      stop(StopReason::kTokenBudget, "generated " + std::to_string(traj.completion_tokens) +
                                         " tokens, budget " + std::to_string(b.max_completion_tokens));
      return;
    }
    const Usage& last = traj.turns.back().usage;
    if (b.max_context_tokens > 0 &&
        last.prompt_tokens + last.completion_tokens >= b.max_context_tokens)
      stop(StopReason::kTokenBudget,
           "context reached " + std::to_string(last.prompt_tokens + last.completion_tokens) +
               " tokens, budget " + std::to_string(b.max_context_tokens));
  }
};

}  // namespace

Trajectory run_agent(Backend& backend, ToolExecutor& tools, const AgentConfig& config,
                     const std::string& task) {
  Run run{backend, tools, config, index_tools(config.tools), Clock::now(), std::nullopt, {}, false, {}};
  if (!config.final_answer_tool.empty() && !run.tools.count(config.final_answer_tool))
    throw std::invalid_argument("final-answer tool \"" + config.final_answer_tool +
                                "\" is not among the offered tools");
  if (config.budget.max_turns < 1)
    throw std::invalid_argument("agent budget: max_turns must be at least 1");
  if (config.budget.max_wall.count() > 0) run.deadline = run.start + config.budget.max_wall;
  run.run(task);
  return std::move(run.traj);
}

}  // namespace envforge::agents
