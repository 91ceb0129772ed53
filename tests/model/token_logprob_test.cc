// Token log-probabilities against a plain reference on fresh random logits, and the engine's
// per-token logprobs against the forward pass replayed token by token.
#include "model/token_logprob.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "model/batch_engine.h"
#include "model/cpu_runner.h"
#include "model/generator.h"
#include "tests/model/golden_util.h"

namespace envforge::model {
namespace {

// log(exp(x_t) / sum exp(x)), the textbook way in long double.
double reference_logprob(const std::vector<float>& x, int t) {
  long double sum = 0;
  for (float v : x) sum += std::exp(static_cast<long double>(v));
  return static_cast<double>(std::log(std::exp(static_cast<long double>(x[t])) / sum));
}

TEST(TokenLogprob, MatchesThePlainReferenceOnRandomLogits) {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 20; ++round) {
    const int V = 1 + static_cast<int>(rng() % 5000);
    std::normal_distribution<float> dist(0.f, 1.f + static_cast<float>(round));
    std::vector<float> x(V);
    for (float& v : x) v = dist(rng);
    if (V > 3) x[1] = x[2];  // a tie
    const int t = static_cast<int>(rng() % V);
    const int top = static_cast<int>(rng() % (kMaxTopLogprobs + 1));
    const TokenLogprob lp = token_logprob(x, t, top);
    EXPECT_EQ(lp.token, t);
    EXPECT_NEAR(lp.logprob, reference_logprob(x, t), 1e-4) << "V " << V;
    ASSERT_EQ(lp.top.size(), static_cast<size_t>(std::min(top, V)));
    std::vector<int> order(V);
    for (int i = 0; i < V; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] > x[b]; });
    for (size_t i = 0; i < lp.top.size(); ++i) {
      EXPECT_EQ(lp.top[i].first, order[i]) << i;
      EXPECT_NEAR(lp.top[i].second, reference_logprob(x, order[i]), 1e-4);
    }
  }
}

TEST(TokenLogprob, HugeLogitsStayFiniteAndBadArgumentsThrow) {
  std::vector<float> x = {1e30f, 1e30f, -1e30f, 0.f};
  const TokenLogprob lp = token_logprob(x, 0, 2);
  EXPECT_NEAR(lp.logprob, std::log(0.5), 1e-6);
  EXPECT_LT(token_logprob(x, 2, 0).logprob, -1e29f);
  EXPECT_THROW(token_logprob(x, 4, 0), std::invalid_argument);
  EXPECT_THROW(token_logprob(x, -1, 0), std::invalid_argument);
  EXPECT_THROW(token_logprob(x, 0, kMaxTopLogprobs + 1), std::invalid_argument);
  EXPECT_THROW(token_logprob(x, 0, -1), std::invalid_argument);
}

TEST(TokenLogprob, TheEnginesLogprobsAreThoseOfTheForwardPassReplayed) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));
  const int V = m->config().vocab_size;
  BatchEngine eng(std::make_unique<CpuRunner>(*m));
  for (float temperature : {0.f, 0.9f}) {
    GenerationRequest r;
    r.prompt = {11, 22, 33, 44, 55};
    r.max_tokens = 8;
    r.sampling.temperature = temperature;
    r.sampling.seed = 5;
    r.top_logprobs = 4;
    std::vector<TokenLogprob> streamed;
    const GenerationResult res = eng.generate(r, [&](int32_t tok, const TokenLogprob* lp) {
      EXPECT_NE(lp, nullptr);
      if (lp) {
        EXPECT_EQ(lp->token, tok);
        streamed.push_back(*lp);
      }
      return true;
    });
    ASSERT_FALSE(res.tokens.empty());
    ASSERT_EQ(res.logprobs.size(), res.tokens.size());
    ASSERT_EQ(streamed.size(), res.tokens.size());
    // Replay: the logits after the prompt and each kept token.
    KvCache c = m->new_cache();
    BatchItem it{&c, r.prompt};
    std::vector<float> logits = m->forward({&it, 1});
    for (size_t i = 0; i < res.tokens.size(); ++i) {
      const std::vector<float> row(logits.begin(), logits.begin() + V);
      const TokenLogprob& got = res.logprobs[i];
      EXPECT_EQ(got.token, res.tokens[i]);
      EXPECT_NEAR(got.logprob, reference_logprob(row, res.tokens[i]), 1e-3) << i;
      EXPECT_LE(got.logprob, 0.f);
      ASSERT_EQ(got.top.size(), 4u);
      for (size_t k = 1; k < got.top.size(); ++k) EXPECT_GE(got.top[k - 1].second, got.top[k].second);
      if (temperature == 0.f) EXPECT_EQ(got.top[0].first, got.token) << i;
      EXPECT_EQ(streamed[i].logprob, got.logprob);
      BatchItem st{&c, std::span<const int32_t>(&res.tokens[i], 1)};
      logits = m->forward({&st, 1});
    }
    // The plain generator reports the same.
    const GenerationResult plain = generate(*m, {r}).at(0);
    ASSERT_EQ(plain.logprobs.size(), res.logprobs.size());
    for (size_t i = 0; i < plain.logprobs.size(); ++i) EXPECT_NEAR(plain.logprobs[i].logprob, res.logprobs[i].logprob, 1e-5);
  }
  GenerationRequest bad;
  bad.prompt = {1};
  bad.top_logprobs = kMaxTopLogprobs + 1;
  EXPECT_THROW(eng.submit(bad), std::invalid_argument);
  EXPECT_THROW(generate(*m, {bad}), std::invalid_argument);
  bad.top_logprobs = -1;
  EXPECT_TRUE(eng.generate(bad).logprobs.empty());
}

}  // namespace
}  // namespace envforge::model
