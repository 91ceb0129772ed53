#include "model/generator.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace envforge::model {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::vector<GenerationResult> generate(Model& model, const std::vector<GenerationRequest>& requests,
                                       const GenerationOptions& options) {
  const ModelConfig& cfg = model.config();
  const size_t R = requests.size();
  std::vector<GenerationResult> results(R);
  if (R == 0) return results;
  std::vector<KvCache> caches;
  std::vector<engine::Sampler> samplers;
  std::vector<ForcedCursor> forced;
  for (size_t i = 0; i < R; ++i) {
    const GenerationRequest& rq = requests[i];
    if (rq.prompt.empty())
      throw std::invalid_argument("generate: request " + std::to_string(i) + " has an empty prompt");
    if (!rq.stop_strings.empty() && !options.detokenize)
      throw std::invalid_argument("generate: stop strings need a detokenizer");
    for (int32_t t : rq.forced.tokens)
      if (t < 0 || t >= model.config().vocab_size)
        throw std::invalid_argument("generate: request " + std::to_string(i) + " forces a token outside the vocabulary");
    if (rq.top_logprobs < -1 || rq.top_logprobs > kMaxTopLogprobs)
      throw std::invalid_argument("generate: top_logprobs must be -1.." + std::to_string(kMaxTopLogprobs));
    caches.push_back(model.new_cache());
    samplers.emplace_back(rq.sampling);
    forced.emplace_back(rq.forced);
  }
  ForwardOptions fwd;
  fwd.force_dense = options.force_dense;
  auto is_stop_token = [&](size_t i, int32_t t) {
    if (t == cfg.eos_token_id) return true;
    const auto& s = requests[i].stop_tokens;
    return std::find(s.begin(), s.end(), t) != s.end();
  };

  // Prefill every prompt in one forward call.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<BatchItem> items;
  for (size_t i = 0; i < R; ++i) items.push_back({&caches[i], requests[i].prompt});
  std::vector<float> logits = model.forward(items, fwd);
  const double prefill = seconds_since(t0);
  std::vector<size_t> active;
  for (size_t i = 0; i < R; ++i) {
    results[i].prefill_seconds = prefill;
    active.push_back(i);
  }
  const int V = cfg.vocab_size;
  std::vector<int32_t> next(R);
  auto t1 = std::chrono::steady_clock::now();
  while (!active.empty()) {
    std::vector<size_t> still;
    for (size_t a = 0; a < active.size(); ++a) {
      const size_t i = active[a];
      GenerationResult& res = results[i];
      const GenerationRequest& rq = requests[i];
      if (static_cast<int>(res.tokens.size()) >= rq.max_tokens) {
        res.finish_reason = "max_tokens";
        continue;
      }
      int32_t tok;
      if (std::optional<int32_t> f = forced[i].next()) {
        tok = *f;
      } else {
        tok = samplers[i].sample(logits.data() + a * V, V);
        forced[i].saw(tok);
      }
      if (is_stop_token(i, tok)) {
        res.finish_reason = "stop_token";
        continue;
      }
      res.tokens.push_back(tok);
      if (rq.top_logprobs >= 0)
        res.logprobs.push_back(token_logprob({logits.data() + a * V, static_cast<size_t>(V)}, tok, rq.top_logprobs));
      bool stop = false;
      if (options.detokenize) {
        res.text = options.detokenize(res.tokens);
        for (const std::string& s : rq.stop_strings) {
          const size_t at = s.empty() ? std::string::npos : res.text.find(s);
          if (at != std::string::npos) {
            res.text.resize(at);
            res.finish_reason = "stop_string";
            stop = true;
          }
        }
      }
      if (stop) continue;
      if (options.on_token && !options.on_token(i, tok)) {
        res.finish_reason = "cancelled";
        continue;
      }
      if (static_cast<int>(res.tokens.size()) >= rq.max_tokens) {
        res.finish_reason = "max_tokens";
        continue;
      }
      if (caches[i].length() + 1 > cfg.max_position_embeddings) {
        res.finish_reason = "context";
        continue;
      }
      next[i] = tok;
      still.push_back(i);
    }
    for (size_t i : active)
      if (std::find(still.begin(), still.end(), i) == still.end())
        results[i].decode_seconds = seconds_since(t1);
    active = std::move(still);
    if (active.empty()) break;
    items.clear();
    for (size_t i : active) items.push_back({&caches[i], std::span<const int32_t>(&next[i], 1)});
    logits = model.forward(items, fwd);
  }
  return results;
}

}  // namespace envforge::model
