// Text generation over the forward pass: batched prefill of several prompts, then batched
// decoding of the sequences still running, with sampling, stop tokens/strings and streaming.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "model/forced_tokens.h"
#include "model/token_logprob.h"
#include "model/transformer.h"

namespace envforge::model {

struct GenerationRequest {
  std::vector<int32_t> prompt;  // must not be empty
  int max_tokens = 256;
  engine::SamplingParams sampling;
  std::vector<int32_t> stop_tokens;     // the config's eos_token_id is always one
  std::vector<std::string> stop_strings;  // need GenerationOptions::detokenize
  ForcedTokens forced;    // written in place of sampling (see forced_tokens.h)
  int top_logprobs = -1;  // -1: no logprobs; 0..kMaxTopLogprobs: each token's, with this many alternatives
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids; a stop token is not included
  std::string text;             // decoded tokens (with detokenize), cut before a stop string
  std::string finish_reason;    // "stop_token", "stop_string", "max_tokens", "context", "cancelled"
  std::vector<TokenLogprob> logprobs;  // one per token when the request asked (top_logprobs >= 0)
  double prefill_seconds = 0, decode_seconds = 0;
};

struct GenerationOptions {
  bool force_dense = false;
  std::function<std::string(const std::vector<int32_t>&)> detokenize;
  // Streaming: called with (request index, token id) for each generated token that is kept;
  // returning false ends that request ("cancelled").
  std::function<bool(size_t, int32_t)> on_token;
};

// Throws std::invalid_argument for an empty prompt, bad token ids or sampling parameters,
// or stop strings without a detokenizer.
std::vector<GenerationResult> generate(Model& model, const std::vector<GenerationRequest>& requests,
                                       const GenerationOptions& options = {});

}  // namespace envforge::model
