// The batch engine on the GPU runner: blocks shared by reference between sequences (what the
// prefix cache hands out) read back as recomputation does, requests batched together decode
// as they do alone, and a full block pool makes the engine evict cached prefixes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>

#include "model/batch_engine.h"
#include "model/gpu/gpu_runner.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::model::gpu {
namespace {

using engine::gpu::testing::GpuTest;

std::string engine_checkpoint(const std::string& name) {
  const char* env = std::getenv("ENVFORGE_SOURCE_DIR");
  return std::string(env && *env ? env : ENVFORGE_SOURCE_DIR) + "/model/checkpoints/" + name;
}

std::vector<int32_t> gpu_prompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = int32_t(rng() % 256);
  return t;
}

double logit_row_err(const float* got, const float* want, int V) {
  double diff = 0, mag = 0;
  for (int i = 0; i < V; ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    diff = std::max(diff, double(std::fabs(got[i] - want[i])));
    mag = std::max(mag, double(std::fabs(want[i])));
  }
  return diff / mag;
}

int argmax(const float* x, int V) { return int(std::max_element(x, x + V) - x); }

class GpuEngine : public GpuTest {};

TEST_F(GpuEngine, SharedPrefixBlocksReadAsRecomputation) {
  for (const char* ckpt : {"tiny-moe-fp8", "tiny-dense-f32"}) {
    GpuModelOptions o;
    o.page_size = 32;
    o.max_seqs = 4;
    o.max_context = 256;
    auto m = GpuModel::load(engine_checkpoint(ckpt), o);
    const int V = m->config().vocab_size;
    const size_t free0 = m->free_pages();
    const auto p = gpu_prompt(100, 3);
    const int a = m->new_sequence();
    m->forward({{a, p}});
    std::vector<int32_t> shared = m->pages(a);
    shared.resize(2);  // 64 tokens
    for (int32_t pg : shared) m->retain_page(pg);  // as the prefix cache does
    m->release_sequence(a);
    EXPECT_EQ(m->free_pages(), free0 - 2);
    std::vector<float> lh, lf;
    for (int round = 0; round < 2; ++round) {  // the second round reads blocks the first left alone
      const int hit = m->new_sequence(shared);
      ASSERT_EQ(m->length(hit), 64);
      const int fresh = m->new_sequence();
      const std::vector<int32_t> rest(p.begin() + 64, p.end());
      lh = m->forward({{hit, rest}});
      lf = m->forward({{fresh, p}});
      for (int32_t t : {7, 8, 9}) {
        const std::vector<int32_t> one = {t};
        auto h = m->forward({{hit, one}}), f = m->forward({{fresh, one}});
        lh.insert(lh.end(), h.begin(), h.end());
        lf.insert(lf.end(), f.begin(), f.end());
      }
      for (int r = 0; r < 4; ++r) {
        const double err = logit_row_err(lh.data() + r * V, lf.data() + r * V, V);
        std::printf("%s round %d row %d: prefix-hit vs recomputed logits err %.2e\n", ckpt, round, r, err);
        EXPECT_LT(err, 1e-2) << ckpt << " row " << r;
        EXPECT_EQ(argmax(lh.data() + r * V, V), argmax(lf.data() + r * V, V)) << ckpt << " row " << r;
      }
      m->release_sequence(hit);
      m->release_sequence(fresh);
    }
    for (int32_t pg : shared) m->release_page(pg);
    EXPECT_EQ(m->free_pages(), free0);
    EXPECT_THROW(m->release_page(shared[0]), std::invalid_argument);
    EXPECT_THROW(m->new_sequence(std::vector<int32_t>{shared[0]}), std::invalid_argument);
  }
}

TEST_F(GpuEngine, ConcurrentRequestsDecodeAsTheyDoAlone) {
  GpuModelOptions o;
  o.max_seqs = 16;
  o.max_context = 512;
  BatchEngine eng(GpuRunner::load(engine_checkpoint("tiny-moe-fp8"), o));
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 16; ++i) {
    GenerationRequest r;
    r.prompt = gpu_prompt(20 + 9 * i, 40 + i);
    r.max_tokens = 12;
    reqs.push_back(r);
  }
  std::vector<GenerationResult> alone;
  for (const auto& r : reqs) alone.push_back(eng.generate(r));
  std::vector<std::future<GenerationResult>> fs;
  for (const auto& r : reqs) fs.push_back(eng.submit(r));
  int identical = 0, same_tokens = 0, total = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    const GenerationResult got = fs[i].get();
    ASSERT_FALSE(got.tokens.empty());
    EXPECT_EQ(got.tokens[0], alone[i].tokens[0]) << i;  // from the prompt's logits
    identical += got.tokens == alone[i].tokens;
    for (size_t t = 0; t < std::min(got.tokens.size(), alone[i].tokens.size()); ++t, ++total) {
      if (got.tokens[t] != alone[i].tokens[t]) break;
      ++same_tokens;
    }
  }
  const auto s = eng.stats();
  std::printf("GPU engine: %d/16 batched requests token-identical to alone (%d of %d leading tokens); "
              "max batch %d, %ld mixed steps, prefix hits %ld (%ld tokens)\n",
              identical, same_tokens, total, s.max_batch, s.mixed_steps, s.prefix.hits, s.prefix.hit_tokens);
  EXPECT_GE(identical, 12);  // bf16 GEMMs of other shapes may flip a near tie late in a sequence
  EXPECT_GT(s.max_batch, 1);
  // The second run of every prompt holding a whole cache block and a token after it (a
  // block is cached only once full, and the last prompt token is always computed).
  int cacheable = 0;
  for (const auto& r : reqs) cacheable += static_cast<int>(r.prompt.size()) > o.page_size;
  EXPECT_GE(s.prefix.hits, cacheable);
}

TEST_F(GpuEngine, AFullBlockPoolEvictsCachedPrefixes) {
  GpuModelOptions o;
  o.page_size = 32;
  o.max_seqs = 4;
  o.max_context = 256;
  o.num_pages = 16;
  BatchEngine eng(GpuRunner::load(engine_checkpoint("tiny-moe-bf16"), o));
  std::vector<std::future<GenerationResult>> fs;
  for (int i = 0; i < 12; ++i) {
    GenerationRequest r;
    r.prompt = gpu_prompt(90, 70 + i);  // 2 full blocks each to cache, 3-4 blocks to run
    r.max_tokens = 6;
    fs.push_back(eng.submit(r));
  }
  for (auto& f : fs) EXPECT_FALSE(f.get().finish_reason.empty());
  const auto s = eng.stats();
  EXPECT_EQ(s.finished, 12);
  EXPECT_GT(s.prefix.evicted_pages, 0);
  EXPECT_LE(long(s.prefix.pages) + eng.runner().free_pages(), 16);
}

}  // namespace
}  // namespace envforge::model::gpu
