#include "model/token_logprob.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace envforge::model {

TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top) {
  if (token < 0 || static_cast<size_t>(token) >= logits.size())
    throw std::invalid_argument("token_logprob: token " + std::to_string(token) + " outside the vocabulary");
  if (top < 0 || top > kMaxTopLogprobs)
    throw std::invalid_argument("token_logprob: top must be 0.." + std::to_string(kMaxTopLogprobs));
  // In double, shifted by the maximum: exact enough for a 129K-entry vocabulary.
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_sum = std::log(sum);
  // (x - max) first: subtracting max + log_sum at once would round log_sum away for huge logits.
  auto lp = [&](int32_t id) { return static_cast<float>((static_cast<double>(logits[id]) - max) - log_sum); };

  TokenLogprob out;
  out.token = token;
  out.logprob = lp(token);
  if (top > 0) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    const auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    const size_t n = std::min(static_cast<size_t>(top), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), better);
    for (size_t i = 0; i < n; ++i) out.top.emplace_back(ids[i], lp(ids[i]));
  }
  return out;
}

}  // namespace envforge::model
