// Replays recorded replies in order, for tests and benchmarks. The script is JSON:
//   {"replies": [REPLY, ...], "repeat": false}
// where each REPLY is one of
//   - an OpenAI chat completion as a server returned it ({"choices": [...], "usage": {...}});
//   - {"message": {"content", "reasoning", "tool_calls": [{"id","name","arguments"}]},
//      "finish_reason": "...", "usage": {"prompt_tokens": N, "completion_tokens": M}};
//   - the message fields themselves at top level ({"content": "...", "tool_calls": [...]});
//   - {"error": {"kind": "http"|"timeout"|"connection"|"protocol"|..., "message": "...",
//      "status": 500}}: the call fails with that BackendError.
// Every request is recorded so that tests can check what the caller sent.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"

namespace envforge::agents {

class ScriptedBackend : public Backend {
 public:
  // Throws BackendError(kConfig) naming `source` and the bad entry.
  ScriptedBackend(const nlohmann::json& script, std::string source = "script");
  static std::unique_ptr<ScriptedBackend> from_file(const std::string& path);

  ChatResponse chat(const ChatRequest& request, const StreamCallback& on_stream = {}) override;
  // The script's file name only: what a model made (an environment, a trajectory) records
  // this, and must not depend on the directory the script was run from.
  std::string describe() const override {
    return "scripted:" + source_.substr(source_.find_last_of('/') == std::string::npos ? 0 : source_.find_last_of('/') + 1);
  }

  std::vector<ChatRequest> requests() const;
  std::size_t replies_used() const;
  std::size_t replies_total() const { return replies_.size(); }

 private:
  struct ScriptedError {
    BackendErrorKind kind;
    std::string message;
    int status;
  };
  using Reply = std::variant<ChatResponse, ScriptedError>;
  Reply parse_reply(const nlohmann::json& entry, std::size_t index) const;

  std::string source_;
  std::vector<Reply> replies_;
  bool repeat_ = false;
  mutable std::mutex mutex_;
  std::size_t next_ = 0;
  std::vector<ChatRequest> requests_;
};

}  // namespace envforge::agents
