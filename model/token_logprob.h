// The log-probability of a generated token under the model's distribution at its step (the
// raw logits: before temperature, top-k and top-p, as OpenAI-compatible servers report them),
// with the most likely alternatives: what RL trainers read back as the rollout's logprobs.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace envforge::model {

inline constexpr int kMaxTopLogprobs = 20;

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // the `top` most likely tokens, best first
};

// log softmax(logits)[token] and the `top` (0..kMaxTopLogprobs) largest entries; ties keep the
// lower id first. Throws std::invalid_argument for a token outside the logits or a bad `top`.
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top);

}  // namespace envforge::model
