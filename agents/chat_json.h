// JSON form of chat messages as envforge stores them (trajectories, scripted replies):
// {"role","content","reasoning","tool_calls":[{"id","name","arguments"}],"tool_call_id","name"}
// with empty fields left out. Tool call arguments are a JSON object; when a model produced
// arguments that are not a JSON object, they are kept verbatim as a JSON string so that the
// agent loop can tell the model what was wrong (see arguments_malformed()).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/chat_message.h"

namespace envforge::agents {

nlohmann::json message_to_json(const model::ChatMessage& message);

// Throws std::invalid_argument naming `where` and the offending field.
model::ChatMessage message_from_json(const nlohmann::json& j, const std::string& where);

// Arguments nested deeper than this are malformed: every level would cost a stack frame in
// each copy and dump of the trajectory, and no tool schema goes that deep.
inline constexpr std::size_t kMaxArgumentDepth = 128;

// A tool call from the text of its arguments as a model wrote them. Empty text means no
// arguments ({}); text that is not a JSON object (or nests deeper than kMaxArgumentDepth) is
// kept as a JSON string.
model::ToolCall tool_call_from_text(std::string id, std::string name, std::string_view arguments);

// True when the call's arguments could not be read as a JSON object.
bool arguments_malformed(const model::ToolCall& call);

// Why the arguments are malformed, for the tool error sent back to the model.
std::string malformed_arguments_reason(const model::ToolCall& call);

// The JSON type name used in error messages ("string", "number", "null", ...).
const char* json_type_name(const nlohmann::json& j);

}  // namespace envforge::agents
