#include "agents/trajectory.h"

#include <map>

#include "agents/chat_json.h"

namespace envforge::agents {

using nlohmann::json;

const char* to_string(StopReason reason) {
  switch (reason) {
    case StopReason::kFinalAnswer: return "final_answer";
    case StopReason::kLength: return "length";
    case StopReason::kMaxTurns: return "max_turns";
    case StopReason::kTokenBudget: return "token_budget";
    case StopReason::kTimeBudget: return "time_budget";
    case StopReason::kBackendError: return "backend_error";
    case StopReason::kToolFailure: return "tool_failure";
  }
  return "unknown";
}

namespace {

// Values above this size are stored once, in `messages`; other places point there with a
// JSON pointer (RFC 6901) in a "*_ref" field instead of a copy.
constexpr std::size_t kInlineBytes = 4096;

bool large(const json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>().size() > kInlineBytes;
  if (!v.is_structured()) return false;
  return v.dump(-1, ' ', false, json::error_handler_t::replace).size() > kInlineBytes;
}

std::string pointer(std::size_t message, const std::string& rest) {
  return "/messages/" + std::to_string(message) + rest;
}

}  // namespace

json Trajectory::to_json() const {
  json msgs = json::array();
  // Where each call's arguments and each call's result message are, by call id.
  std::map<std::string, std::string> arguments_at, result_at;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    for (std::size_t k = 0; k < m.tool_calls.size(); ++k)
      arguments_at.emplace(m.tool_calls[k].id, pointer(i, "/tool_calls/" + std::to_string(k) + "/arguments"));
    if (m.role == "tool" && !m.tool_call_id.empty()) result_at.emplace(m.tool_call_id, pointer(i, "/content"));
    msgs.push_back(message_to_json(m));
  }
  json turn_list = json::array();
  for (const auto& t : turns) {
    json tools_json = json::array();
    for (const auto& x : t.tools) {
      json one = {{"id", x.call_id}, {"name", x.name}, {"ok", x.ok}, {"wall_ms", x.wall_ms}};
      auto args = arguments_at.find(x.call_id);
      if (args != arguments_at.end() && large(x.arguments)) one["arguments_ref"] = args->second;
      else one["arguments"] = x.arguments;
      // The tool message holds what the model saw: the result (cut when long) or the error.
      auto result = result_at.find(x.call_id);
      const json& outcome = x.ok ? x.result : json(x.error);
      if (result != result_at.end() && large(outcome)) {
        one[x.ok ? "result_ref" : "error_ref"] = result->second;
      } else if (x.ok) {
        one["result"] = x.result;
      } else {
        one["error"] = x.error;
      }
      tools_json.push_back(std::move(one));
    }
    turn_list.push_back({{"finish_reason", t.finish_reason},
                         {"prompt_tokens", t.usage.prompt_tokens},
                         {"completion_tokens", t.usage.completion_tokens},
                         {"reasoning_tokens", t.usage.reasoning_tokens},
                         {"tokens_estimated", t.tokens_estimated},
                         {"model_ms", t.timing.wall_ms},
                         {"first_token_ms", t.timing.first_token_ms},
                         {"attempts", t.timing.attempts},
                         {"tool_calls", std::move(tools_json)}});
  }
  // A large final answer is the last assistant message's text or one of its call's arguments.
  std::string answer_at;
  if (final_answer && large(*final_answer)) {
    for (std::size_t i = messages.size(); i-- > 0 && answer_at.empty();) {
      const auto& m = messages[i];
      if (m.role != "assistant") continue;
      if (final_answer->is_string() && m.content == final_answer->get_ref<const std::string&>())
        answer_at = pointer(i, "/content");
      for (std::size_t k = 0; k < m.tool_calls.size() && answer_at.empty(); ++k)
        if (m.tool_calls[k].arguments == *final_answer)
          answer_at = pointer(i, "/tool_calls/" + std::to_string(k) + "/arguments");
      break;  // only the last assistant message gives the answer
    }
  }
  json j = {{"backend", backend},
            {"stop_reason", to_string(stop_reason)},
            {"final_answer", final_answer && answer_at.empty() ? *final_answer : json(nullptr)},
            {"messages", std::move(msgs)},
            {"turns", std::move(turn_list)},
            {"totals",
             {{"turns", turns.size()},
              {"tool_calls", tool_calls},
              {"tool_errors", tool_errors},
              {"prompt_tokens", prompt_tokens},
              {"completion_tokens", completion_tokens},
              {"tokens_estimated", tokens_estimated},
              {"wall_ms", wall_ms},
              {"model_ms", model_ms},
              {"tool_ms", tool_ms}}}};
  if (!answer_at.empty()) j["final_answer_ref"] = answer_at;
  if (!error.empty()) j["error"] = error;
  return j;
}

}  // namespace envforge::agents
