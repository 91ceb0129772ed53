// What one run of the agent loop did: every message, every model turn (tokens, timing) and
// every tool execution (arguments, result or error, time), and why it stopped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "model/chat_message.h"

namespace envforge::agents {

enum class StopReason {
  kFinalAnswer,   // the model answered (no tool calls, or the final-answer tool)
  kLength,        // the model's reply was cut at max_tokens without tool calls
  kMaxTurns,
  kTokenBudget,
  kTimeBudget,
  kBackendError,  // the model could not be reached / answered garbage after retries
  kToolFailure,   // the environment broke (not a tool error the model can fix)
};
const char* to_string(StopReason reason);

struct ToolExecution {
  std::string call_id;
  std::string name;
  nlohmann::json arguments;
  bool ok = false;
  nlohmann::json result;  // when ok
  std::string error;      // when !ok: what the model was told
  double wall_ms = 0;
};

struct TurnRecord {
  std::string finish_reason;
  Usage usage;
  bool tokens_estimated = false;
  ChatTiming timing;
  std::vector<ToolExecution> tools;
};

struct Trajectory {
  std::string backend;
  std::vector<model::ChatMessage> messages;
  std::vector<TurnRecord> turns;
  StopReason stop_reason = StopReason::kBackendError;
  std::optional<nlohmann::json> final_answer;  // text, or the final-answer tool's arguments
  std::string error;                           // why it stopped, when not a final answer
  std::int64_t prompt_tokens = 0;      // summed over turns
  std::int64_t completion_tokens = 0;  // summed over turns
  bool tokens_estimated = false;       // some turn had no usage from the backend
  int tool_calls = 0;
  int tool_errors = 0;
  double wall_ms = 0;
  double model_ms = 0;
  double tool_ms = 0;

  // Each large value (over 4 KB: a long reply, a big answer, a long tool result) is stored
  // once, in "messages"; turns and the final answer then carry an "arguments_ref",
  // "result_ref", "error_ref" or "final_answer_ref" JSON pointer (RFC 6901) to it.
  nlohmann::json to_json() const;
};

}  // namespace envforge::agents
