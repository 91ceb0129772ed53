// The reply side of the OpenAI-compatible endpoint: chat.completion objects, the
// chat.completion.chunk objects of a stream and their SSE framing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "model/text/tokenizer.h"
#include "model/token_logprob.h"

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

// A choice's "logprobs": {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}.
nlohmann::json logprobs_json(std::span<const model::TokenLogprob> tokens, const model::text::Tokenizer& tokenizer);

// A whole non-streamed reply; choices in order, usage summed over them; `logprobs[i]` is
// choice i's (null, or none given: no logprobs).
nlohmann::json completion_json(const ReplyHeader& header, const std::vector<agents::ChatResponse>& choices,
                               std::int64_t prompt_tokens, const std::vector<nlohmann::json>& logprobs = {});

// One chunk of a stream for choice `index`: `delta`, the finish reason when not null, and the
// logprobs of the tokens the delta carries when asked for.
nlohmann::json chunk_json(const ReplyHeader& header, int index, nlohmann::json delta,
                          nlohmann::json finish_reason = nullptr, nlohmann::json logprobs = nullptr);

// The delta of a streamed piece: {"reasoning_content"}, {"content"} or {"tool_calls":[...]}.
nlohmann::json delta_json(const agents::StreamEvent& event);

// "data: <json>\n\n"
std::string sse_event(const nlohmann::json& data);

}  // namespace envforge::server
