// Tokens a request must write, taken in place of sampling: from the first generated token, or
// right after the model itself writes a trigger token. This is how an OpenAI-compatible server
// makes a reply call a tool (tool_choice "required" or a named function): the call's opening
// markup is written for the model, after its reasoning when it thinks first.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace envforge::model {

struct ForcedTokens {
  std::vector<int32_t> tokens;  // empty: nothing forced
  int32_t after = -1;           // -1: from the first generated token; else once this token is written
};

// The progress of one request through its forced tokens.
class ForcedCursor {
 public:
  explicit ForcedCursor(const ForcedTokens& forced)
      : forced_(&forced), next_(forced.tokens.empty() || forced.after >= 0 ? kIdle : 0) {}
  // The token to write instead of sampling, if any.
  std::optional<int32_t> next() {
    if (next_ == kIdle || next_ >= forced_->tokens.size()) return std::nullopt;
    return forced_->tokens[next_++];
  }
  // Told every sampled token: the trigger starts the forced run (once: it then never idles).
  void saw(int32_t token) {
    if (next_ == kIdle && !forced_->tokens.empty() && token == forced_->after) next_ = 0;
  }

 private:
  static constexpr size_t kIdle = static_cast<size_t>(-1);
  const ForcedTokens* forced_;
  size_t next_;
};

}  // namespace envforge::model
