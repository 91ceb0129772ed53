#include "server/openai_endpoint_reply.h"

#include "agents/openai_wire.h"

namespace envforge::server {

using nlohmann::json;

json usage_json(std::int64_t prompt_tokens, std::int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json reply_message_json(const model::ChatMessage& message) {
  json j = agents::message_to_openai(message, /*with_reasoning=*/true);
  if (message.content.empty() && !message.tool_calls.empty()) j["content"] = nullptr;
  return j;
}

namespace {

// OpenAI's token entry: the token's text (ill-formed UTF-8 of a partial character replaced),
// its exact bytes, and its log-probability.
json token_entry(const model::text::Tokenizer& tokenizer, std::int32_t id, float logprob) {
  const std::vector<std::int32_t> one = {id};
  json bytes = json::array();
  for (unsigned char b : tokenizer.decode_bytes(one)) bytes.push_back(b);
  return {{"token", tokenizer.decode(one)}, {"logprob", logprob}, {"bytes", std::move(bytes)}};
}

}  // namespace

json logprobs_json(std::span<const model::TokenLogprob> tokens, const model::text::Tokenizer& tokenizer) {
  json content = json::array();
  for (const model::TokenLogprob& t : tokens) {
    json entry = token_entry(tokenizer, t.token, t.logprob);
    json top = json::array();
    for (const auto& [id, lp] : t.top) top.push_back(token_entry(tokenizer, id, lp));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

json completion_json(const ReplyHeader& header, const std::vector<agents::ChatResponse>& choices,
                     std::int64_t prompt_tokens, const std::vector<json>& logprobs) {
  json list = json::array();
  std::int64_t completion_tokens = 0;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    list.push_back({{"index", i},
                    {"message", reply_message_json(choices[i].message)},
                    {"logprobs", i < logprobs.size() ? logprobs[i] : json(nullptr)},
                    {"finish_reason", choices[i].finish_reason}});
    completion_tokens += choices[i].usage.completion_tokens;
  }
  return {{"id", header.id},
          {"object", "chat.completion"},
          {"created", header.created},
          {"model", header.model},
          {"choices", std::move(list)},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

json chunk_json(const ReplyHeader& header, int index, json delta, json finish_reason, json logprobs) {
  return {{"id", header.id},
          {"object", "chat.completion.chunk"},
          {"created", header.created},
          {"model", header.model},
          {"choices",
           {{{"index", index}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)},
             {"finish_reason", std::move(finish_reason)}}}}};
}

json delta_json(const agents::StreamEvent& ev) {
  switch (ev.kind) {
    case agents::StreamEvent::Kind::kReasoning: return {{"reasoning_content", ev.text}};
    case agents::StreamEvent::Kind::kContent: return {{"content", ev.text}};
    case agents::StreamEvent::Kind::kToolCall:
      return {{"tool_calls",
               {{{"index", ev.tool_index},
                 {"id", ev.tool_id},
                 {"type", "function"},
                 {"function", {{"name", ev.tool_name}, {"arguments", ev.text}}}}}}};
    case agents::StreamEvent::Kind::kReset: break;
  }
  return json::object();
}

std::string sse_event(const json& data) {
  return "data: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace envforge::server
