// Server-sent events of a streamed chat completion: the byte-level event parser and the
// accumulator that turns `data:` chunks (content, reasoning and tool-call argument deltas)
// into one assistant message.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agents/backend.h"

namespace envforge::agents {

// Splits a byte stream into SSE events and hands each event's data (multi-line data joined
// with '\n') to the sink. Comment lines (":") and other fields are skipped. Bytes may arrive
// in any split, lines end in "\n" or "\r\n".
class SseParser {
 public:
  using Sink = std::function<void(const std::string& data)>;
  explicit SseParser(Sink sink) : sink_(std::move(sink)) {}
  void feed(std::string_view bytes);
  // The end of the stream. An event left without its terminating blank line (a server that
  // closed mid-event) is dropped, as the SSE rules say: it may be cut anywhere.
  void finish();
  std::size_t events() const { return events_; }
  bool dropped_partial() const { return dropped_partial_; }

 private:
  void line(std::string_view text);
  Sink sink_;
  std::string pending_;  // a partial line
  std::string data_;
  bool has_data_ = false;
  std::size_t events_ = 0;
  bool dropped_partial_ = false;
};

// Folds the decoded `data:` chunks of one reply into a ChatResponse. Throws
// BackendError(kProtocol) naming the chunk and field when a chunk has the wrong shape.
class StreamAccumulator {
 public:
  explicit StreamAccumulator(StreamCallback on_event) : on_event_(std::move(on_event)) {}
  // `data` is one event's data; "[DONE]" marks the end.
  void add(const std::string& data);
  bool done() const { return done_; }
  bool received_any() const { return chunks_ > 0; }
  bool has_finish_reason() const { return !out_.finish_reason.empty(); }
  // The accumulated reply. Throws kProtocol when the stream carried no choice at all.
  ChatResponse finish();

 private:
  void add_tool_delta(const nlohmann::json& delta, std::size_t position, const std::string& at);
  StreamCallback on_event_;
  ChatResponse out_;
  struct PartialCall {
    std::string id, name, arguments;
  };
  std::map<int, PartialCall> calls_;  // by the delta's index
  int last_index_ = -1;
  std::size_t chunks_ = 0;
  bool saw_choice_ = false;
  bool done_ = false;
};

}  // namespace envforge::agents
