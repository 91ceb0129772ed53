// The reply side of the OpenAI-compatible endpoint: chat.completion objects, the
// chat.completion.chunk objects of a stream and their SSE framing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"

namespace envforge::server {

struct ReplyHeader {
  std::string id;        // "chatcmpl-..."
  std::int64_t created = 0;  // Unix seconds
  std::string model;
};

nlohmann::json usage_json(std::int64_t prompt_tokens, std::int64_t completion_tokens);

// The OpenAI message of a reply: content (null when empty beside tool calls),
// reasoning_content when there is reasoning, tool_calls with arguments as JSON text.
nlohmann::json reply_message_json(const model::ChatMessage& message);

// A whole non-streamed reply; choices in order, usage summed over them.
nlohmann::json completion_json(const ReplyHeader& header, const std::vector<agents::ChatResponse>& choices,
                               std::int64_t prompt_tokens);

// One chunk of a stream for choice `index`: `delta` and, when not null, the finish reason.
nlohmann::json chunk_json(const ReplyHeader& header, int index, nlohmann::json delta,
                          nlohmann::json finish_reason = nullptr);

// The delta of a streamed piece: {"reasoning_content"}, {"content"} or {"tool_calls":[...]}.
nlohmann::json delta_json(const agents::StreamEvent& event);

// "data: <json>\n\n"
std::string sse_event(const nlohmann::json& data);

}  // namespace envforge::server
