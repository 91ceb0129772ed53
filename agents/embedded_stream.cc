#include "agents/embedded_stream.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "agents/chat_json.h"
#include "model/text/completion_parser.h"

namespace envforge::agents {

namespace text = model::text;

namespace {

// The tool-call block starts with this (the completion parser's own marker).
const std::string kToolCallsStart = "\n\n<" + std::string(text::kDsmlToken) + "function_calls";

// The first position at or after `from` where text may hold one of `patterns`: a whole
// occurrence, or a tail of text that a pattern begins with (more tokens may complete it).
// text.size() when there is none.
std::size_t undecided_from(std::string_view text, std::size_t from, const std::vector<std::string_view>& patterns) {
  std::size_t best = text.size();
  for (std::string_view p : patterns) {
    if (p.empty()) continue;
    const std::size_t at = text.find(p, from);
    if (at != std::string_view::npos) best = std::min(best, at);
    const std::size_t tail_start = std::max(from, text.size() >= p.size() ? text.size() - p.size() + 1 : 0);
    for (std::size_t i = tail_start; i < std::min(best, text.size()); ++i) {
      if (p.substr(0, text.size() - i) == text.substr(i)) {
        best = i;
        break;
      }
    }
  }
  return best;
}

}  // namespace

CompletionParts split_completion(std::string_view completion, text::ThinkingMode mode) {
  CompletionParts parts;
  std::string_view rest = completion;
  if (mode == text::ThinkingMode::kThinking) {
    const std::size_t end = completion.find(text::kThinkEnd);
    parts.reasoning = std::string(completion.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : completion.substr(end + text::kThinkEnd.size());
  }
  parts.content = std::string(rest);
  return parts;
}

model::ChatMessage completion_message(const std::string& completion, bool ended, text::ThinkingMode mode) {
  model::ChatMessage out;
  out.role = "assistant";
  try {
    // The stop token's text is not in the completion; it closes the reply for the parser.
    text::ParsedCompletion parsed =
        text::parse_completion(ended ? completion + std::string(text::kEosToken) : completion, mode);
    out.content = std::move(parsed.content);
    out.reasoning = std::move(parsed.reasoning);
    for (std::size_t i = 0; i < parsed.tool_calls.size(); ++i)
      out.tool_calls.push_back(tool_call_from_text("call_" + std::to_string(i), parsed.tool_calls[i].name,
                                                   parsed.tool_calls[i].arguments));
  } catch (const text::ChatFormatError& e) {
    // The model wrote something outside the chat format: its text as it is, reasoning apart.
    spdlog::debug("completion not in the chat format ({}); kept as text", e.what());
    CompletionParts parts = split_completion(completion, mode);
    out.reasoning = std::move(parts.reasoning);
    out.content = std::move(parts.content);
  }
  return out;
}

CompletionStreamer::CompletionStreamer(const text::Tokenizer& tokenizer, text::ThinkingMode mode,
                                       std::vector<std::string> stop_strings)
    : decoder_(tokenizer),
      stops_(std::move(stop_strings)),
      phase_(mode == text::ThinkingMode::kThinking ? Phase::kReasoning : Phase::kContent) {}

std::vector<StreamEvent> CompletionStreamer::push(std::int32_t token) {
  text_ += decoder_.push(token);
  std::vector<StreamEvent> out;
  std::vector<std::string_view> stops(stops_.begin(), stops_.end());
  // Text from here on may still be cut by a stop string.
  const std::size_t stop_at = undecided_from(text_, done_, stops);
  std::string reasoning, content;
  for (;;) {
    if (phase_ == Phase::kToolCalls) break;
    const bool reasoning_phase = phase_ == Phase::kReasoning;
    const std::string_view marker = reasoning_phase ? text::kThinkEnd : std::string_view(kToolCallsStart);
    const std::size_t marker_at = undecided_from(text_, done_, {marker});
    const std::size_t sure = std::min(marker_at, stop_at);
    (reasoning_phase ? reasoning : content).append(text_, done_, sure - done_);
    done_ = sure;
    const bool whole_marker = marker_at < text_.size() && marker_at + marker.size() <= stop_at &&
                              std::string_view(text_).substr(marker_at, marker.size()) == marker;
    if (!whole_marker) break;
    done_ = marker_at + marker.size();
    phase_ = reasoning_phase ? Phase::kContent : Phase::kToolCalls;
  }
  if (!reasoning.empty()) {
    sent_reasoning_ += reasoning;
    out.push_back({StreamEvent::Kind::kReasoning, std::move(reasoning)});
  }
  if (!content.empty()) {
    sent_content_ += content;
    out.push_back({StreamEvent::Kind::kContent, std::move(content)});
  }
  return out;
}

std::vector<StreamEvent> CompletionStreamer::finish(const model::ChatMessage& final) {
  std::vector<StreamEvent> out;
  auto rest = [&](const std::string& whole, const std::string& sent, StreamEvent::Kind kind) {
    if (whole.compare(0, sent.size(), sent) != 0) {  // cannot happen: sent text is always decided
      spdlog::warn("streamed {} is not a prefix of the final reply", kind == StreamEvent::Kind::kContent ? "content" : "reasoning");
      return;
    }
    if (whole.size() > sent.size()) out.push_back({kind, whole.substr(sent.size())});
  };
  rest(final.reasoning, sent_reasoning_, StreamEvent::Kind::kReasoning);
  rest(final.content, sent_content_, StreamEvent::Kind::kContent);
  for (std::size_t i = 0; i < final.tool_calls.size(); ++i) {
    const model::ToolCall& c = final.tool_calls[i];
    std::string args = c.arguments.is_string() ? c.arguments.get<std::string>() : c.arguments.dump();
    out.push_back({StreamEvent::Kind::kToolCall, std::move(args), static_cast<int>(i), c.id, c.name});
  }
  return out;
}

}  // namespace envforge::agents
