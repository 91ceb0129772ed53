// What the embedded model wrote, cut into reasoning, content and tool calls: at the end (the
// final reply) and while it is generated (the streamed deltas). Both cut the text the same way,
// so the deltas of a stream put together are exactly the final reply: a delta is sent only once
// no later token can change it (text that may begin </think>, the tool-call block or a stop
// string is held back until it is decided).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agents/backend.h"
#include "model/text/chat_tokens.h"
#include "model/text/stream_decoder.h"

namespace envforge::agents {

// The reply's structure without the DSML parse: in thinking mode the reasoning is the text
// before the first </think> (all of it when there is none, e.g. a reply cut short while it
// still reasoned); the content is what follows, tool-call block included. This is the reply
// when the completion is not well-formed chat output.
struct CompletionParts {
  std::string reasoning;
  std::string content;
};
CompletionParts split_completion(std::string_view text, model::text::ThinkingMode mode);

// The assistant message of a completion: DeepSeek-V3.2's parse when the text is well-formed
// (tool calls get ids call_0, call_1, ...), else split_completion. `ended`: generation stopped
// at the end-of-sentence token or a stop string (not cut by a length limit).
model::ChatMessage completion_message(const std::string& text, bool ended, model::text::ThinkingMode mode);

// Turns generated tokens into reasoning and content deltas as they come.
class CompletionStreamer {
 public:
  CompletionStreamer(const model::text::Tokenizer& tokenizer, model::text::ThinkingMode mode,
                     std::vector<std::string> stop_strings);
  // The deltas this token made certain (none, one, or a reasoning delta then a content one).
  std::vector<StreamEvent> push(std::int32_t token);
  // The deltas that complete `final` (the message completion_message made of the whole text):
  // what is left of its reasoning and content, then one kToolCall event per tool call.
  std::vector<StreamEvent> finish(const model::ChatMessage& final);

 private:
  enum class Phase { kReasoning, kContent, kToolCalls };
  model::text::StreamDecoder decoder_;
  std::vector<std::string> stops_;
  Phase phase_;
  std::string text_;
  std::size_t done_ = 0;  // text_ before this is sent or skipped (a marker)
  std::string sent_reasoning_, sent_content_;
};

}  // namespace envforge::agents
