// Lightning-indexer kernel against engine::indexer_scores on fresh random inputs.
#include <limits>
#include <stdexcept>

#include "engine/cuda/indexer_tuning.h"
#include "engine/dsa_ops.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::engine::gpu::testing {
namespace {

constexpr int H = kIndexHeads, D = kIndexDim;

struct IndexerCase {
  std::vector<int> seq_lens;  // one cache sequence each
  std::vector<int> q_seq;     // query -> sequence
  std::vector<int> q_pos;     // query -> position (< its sequence length)
  int S;                      // score columns
  int check_every = 1;        // compare every n-th query with the reference (long cases)
  int page_size = 64;
};

// Runs one case on the GPU and the CPU reference; returns the relative L2 error.
double run_case(const IndexerCase& c, IndexKeyType type, uint32_t seed, int variant = 0) {
  SCOPED_TRACE("seed " + std::to_string(seed) + ", configuration " + std::to_string(variant) +
               ", page size " + std::to_string(c.page_size));
  std::mt19937 rng(seed);
  const int T = int(c.q_seq.size());
  const PagedLayout layout = make_layout(rng, c.seq_lens, c.page_size);
  const bool fp8 = type == IndexKeyType::kFp8E4M3;
  const int row_bytes = fp8 ? D : 2 * D;

  std::vector<float> q = random_normal(rng, size_t(T) * H * D);
  std::vector<float> weights = random_normal(rng, size_t(T) * H, 0.3f);
  std::vector<float> pool = random_normal(rng, size_t(layout.num_pages) * c.page_size * D);
  // what the reference sees: the values after rounding to the kernel's input type
  std::vector<float> q_ref, pool_ref;
  std::vector<uint8_t> q_bytes(size_t(T) * H * row_bytes), pool_bytes(pool.size() * row_bytes / D);
  std::vector<float> q_scale(size_t(T) * H, 1.f), key_scale(pool.size() / D, 1.f);
  if (fp8) {
    Fp8Rows qq = quantize_rows_e4m3(q, D), kq = quantize_rows_e4m3(pool, D);
    q_ref = qq.dequantized, pool_ref = kq.dequantized;
    q_bytes = qq.bytes, pool_bytes = kq.bytes, q_scale = qq.scales, key_scale = kq.scales;
  } else {
    auto qb = to_bf16(q), kb = to_bf16(pool);
    q_ref = from_bf16(qb), pool_ref = from_bf16(kb);
    std::memcpy(q_bytes.data(), qb.data(), q_bytes.size());
    std::memcpy(pool_bytes.data(), kb.data(), pool_bytes.size());
  }

  DeviceBuffer<uint8_t> d_q(q_bytes), d_pool(pool_bytes);
  DeviceBuffer<float> d_qs(q_scale), d_w(weights), d_ks(key_scale);
  DeviceBuffer<int32_t> d_table(layout.table), d_seq(c.q_seq), d_pos(c.q_pos);
  DeviceBuffer<float> d_out(size_t(T) * c.S);
  d_out.poison();
  IndexerArgs a;
  a.type = type;
  a.q = d_q.get();
  a.q_scale = d_qs.get();
  a.weights = d_w.get();
  a.key_pages = d_pool.get();
  a.key_scale = d_ks.get();
  a.table = {d_table.get(), layout.max_pages, layout.page_size};
  a.q_seq = d_seq.get();
  a.q_pos = d_pos.get();
  a.T = T;
  a.S = c.S;
  a.out = d_out.get();
  indexer_scores_variant(a, variant, nullptr);
  const std::vector<float> got = d_out.download();

  // Reference: one query at a time over its own sequence's keys, gathered from the pages.
  std::vector<float> want(size_t(T) * c.S);
  for (int t = 0; t < T; t += c.check_every) {
    const int seq = c.q_seq[t];
    const int len = c.seq_lens[seq];
    std::vector<float> keys(size_t(c.S) * D, 0.f);
    for (int s = 0; s < std::min(len, c.S); ++s)
      std::copy_n(&pool_ref[layout.row(seq, s) * D], D, &keys[size_t(s) * D]);
    std::vector<float> w(H);
    for (int h = 0; h < H; ++h) w[h] = weights[size_t(t) * H + h];
    const int32_t pos = c.q_pos[t];
    engine::indexer_scores(&q_ref[size_t(t) * H * D], w.data(), keys.data(), &pos, 1, H, D, c.S,
                           &want[size_t(t) * c.S]);
  }
  // rows that are not checked against the reference must still be fully written
  std::vector<float> g, w;
  int unwritten = 0;
  for (int t = 0; t < T; ++t) {
    for (int s = 0; s < c.S; ++s) {
      const float v = got[size_t(t) * c.S + s];
      if (t % c.check_every == 0) {
        g.push_back(v);
        w.push_back(want[size_t(t) * c.S + s]);
      } else if (s <= c.q_pos[t] ? !std::isfinite(v) : v != -INFINITY) {
        ++unwritten;
      }
    }
  }
  EXPECT_EQ(unwritten, 0) << "unchecked queries hold NaN or wrongly masked entries";
  int mismatched = 0;
  const double err = rel_l2(g, w, &mismatched);
  EXPECT_EQ(mismatched, 0) << "masked (-inf) entries differ or an output was left unwritten";
  return err;
}

class IndexerKernel : public GpuTest {};

IndexerCase decode_case() {
  // three sequences of different lengths, one query each at its last position; the score
  // row is wider than every sequence (the tail must be -inf)
  return {{1, 77, 1999}, {0, 1, 2}, {0, 76, 1998}, 2048};
}
IndexerCase prefill_case() {
  // one sequence, many queries at scattered positions (causal rows of different lengths)
  IndexerCase c{{1000}, {}, {}, 1000};
  for (int t = 0; t < 48; ++t) {
    c.q_seq.push_back(0);
    c.q_pos.push_back(t < 24 ? 999 - t : t * 41 % 1000);
  }
  return c;
}
IndexerCase long_case() { return {{20000, 5003}, {0, 1}, {19999, 5002}, 20000}; }
IndexerCase many_long_queries_case() {
  // enough queries x keys that one block per query covers a capped chunk of keys
  IndexerCase c{{40000}, {}, {}, 40000, 75};
  for (int t = 0; t < 300; ++t) {
    c.q_seq.push_back(0);
    c.q_pos.push_back(39999 - t * 101);
  }
  return c;
}

TEST_F(IndexerKernel, Bf16MatchesReferenceForDecodeQueries) {
  EXPECT_LT(run_case(decode_case(), IndexKeyType::kBf16, 11), 2e-4);
}
TEST_F(IndexerKernel, Bf16MatchesReferenceForPrefillQueries) {
  EXPECT_LT(run_case(prefill_case(), IndexKeyType::kBf16, 12), 2e-4);
}
TEST_F(IndexerKernel, Bf16MatchesReferenceOnLongContext) {
  EXPECT_LT(run_case(long_case(), IndexKeyType::kBf16, 13), 2e-4);
}
// The FP8 inputs are exact in float; the tolerance covers the tensor cores' accumulation.
TEST_F(IndexerKernel, Fp8MatchesReferenceForDecodeQueries) {
  EXPECT_LT(run_case(decode_case(), IndexKeyType::kFp8E4M3, 21), 2e-3);
}
TEST_F(IndexerKernel, Fp8MatchesReferenceForPrefillQueries) {
  EXPECT_LT(run_case(prefill_case(), IndexKeyType::kFp8E4M3, 22), 2e-3);
}
TEST_F(IndexerKernel, Fp8MatchesReferenceOnLongContext) {
  EXPECT_LT(run_case(long_case(), IndexKeyType::kFp8E4M3, 23), 2e-3);
}
TEST_F(IndexerKernel, Fp8ManyQueriesOverLongContext) {
  EXPECT_LT(run_case(many_long_queries_case(), IndexKeyType::kFp8E4M3, 24), 2e-3);
}

// A decode batch of 16 sequences of random lengths on fresh random inputs, through every
// compiled kernel configuration and with other page sizes.
IndexerCase random_decode_case(std::mt19937& rng, int page_size) {
  IndexerCase c;
  c.page_size = page_size;
  std::uniform_int_distribution<int> len(1, 6000);
  c.S = 0;
  for (int b = 0; b < 16; ++b) {
    c.seq_lens.push_back(len(rng));
    c.q_seq.push_back(b);
    c.q_pos.push_back(c.seq_lens.back() - 1);
    c.S = std::max(c.S, c.seq_lens.back());
  }
  c.S += 33;  // a ragged tail of -inf past every sequence
  return c;
}
TEST_F(IndexerKernel, Fp8EveryConfigurationOnFreshDecodeBatches) {
  std::random_device dev;
  for (int v = 0; v < kIndexerVariants; ++v) {
    const uint32_t seed = dev();
    std::mt19937 rng(seed);
    EXPECT_LT(run_case(random_decode_case(rng, 64), IndexKeyType::kFp8E4M3, seed, v), 2e-3);
  }
}
TEST_F(IndexerKernel, OtherPageSizesOnFreshInputs) {
  std::random_device dev;
  for (int page : {32, 128}) {
    const uint32_t seed = dev();
    std::mt19937 rng(seed);
    EXPECT_LT(run_case(random_decode_case(rng, page), IndexKeyType::kFp8E4M3, seed), 2e-3);
    EXPECT_LT(run_case(random_decode_case(rng, page), IndexKeyType::kBf16, seed + 1), 2e-4);
  }
}

// Argument checks happen before any device work, so they hold on GPU-less machines too.
TEST(IndexerKernelArgs, RejectsBadShapes) {
  IndexerArgs a;
  a.T = 1;
  a.S = 10;
  EXPECT_THROW(indexer_scores(a, nullptr), std::invalid_argument);  // null pointers
  int32_t dummy = 0;
  float f = 0;
  a.q = &dummy, a.weights = &f, a.key_pages = &dummy, a.q_seq = &dummy, a.q_pos = &dummy;
  a.out = &f, a.q_scale = &f, a.key_scale = &f;
  a.table = {&dummy, 1, 48};  // page size not a multiple of 32
  EXPECT_THROW(indexer_scores(a, nullptr), std::invalid_argument);
  a.table.page_size = 64;
  a.T = -1;
  EXPECT_THROW(indexer_scores(a, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::engine::gpu::testing
