// Sparse and dense MLA attention kernels against engine::sparse_mla_attention.
#include <stdexcept>
#include <string>

#include "engine/dsa_ops.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::engine::gpu::testing {
namespace {

constexpr float kScale = 0.0721687836f * 1.6f;  // 192^-0.5 times a YaRN-like mscale^2

struct MlaCase {
  std::vector<int> seq_lens;
  std::vector<int> q_seq;
  std::vector<int> q_len;  // visible rows per query
  int Hq = 128;
  int k = 0;           // 0 = dense
  bool stray = false;  // sprinkle -1 and out-of-range indices that must be skipped
  bool rising = false;  // rows scaled up along each sequence: the row maxima keep growing
  int page_size = 64;
  bool nan_past_end = false;  // cache rows no sequence has written hold NaN
};

double run_case(const MlaCase& c, uint32_t seed, MlaKernelChoice kernel) {
  std::mt19937 rng(seed);
  const int T = int(c.q_seq.size());
  const bool sparse = c.k > 0;
  const PagedLayout layout = make_layout(rng, c.seq_lens, c.page_size);
  const auto q_b = to_bf16(random_normal(rng, size_t(T) * c.Hq * kQkDim));
  auto pool_r = random_normal(rng, size_t(layout.num_pages) * c.page_size * kQkDim);
  if (c.nan_past_end) {
    std::vector<bool> written(size_t(layout.num_pages) * c.page_size, false);
    for (int sq = 0; sq < int(c.seq_lens.size()); ++sq)
      for (int s = 0; s < c.seq_lens[sq]; ++s) written[layout.row(sq, s)] = true;
    for (size_t r = 0; r < written.size(); ++r)
      if (!written[r]) std::fill_n(&pool_r[r * kQkDim], kQkDim, std::nanf(""));
  }
  if (c.rising) {
    for (int sq = 0; sq < int(c.seq_lens.size()); ++sq)
      for (int s = 0; s < c.seq_lens[sq]; ++s) {
        const float f = 0.25f + 3.f * float(s) / float(c.seq_lens[sq]);
        for (int d = 0; d < kQkDim; ++d) pool_r[layout.row(sq, s) * kQkDim + d] *= f;
      }
  }
  const auto pool_b = to_bf16(pool_r);
  const auto q_f = from_bf16(q_b), pool_f = from_bf16(pool_b);

  // each query picks k distinct visible rows (all of them, shuffled, when fewer), -1 padded
  std::vector<int32_t> idx;
  if (sparse) {
    idx.assign(size_t(T) * c.k, -1);
    for (int t = 0; t < T; ++t) {
      std::vector<int32_t> rows(c.q_len[t]);
      std::iota(rows.begin(), rows.end(), 0);
      std::shuffle(rows.begin(), rows.end(), rng);
      const int take = std::min<int>(c.k, int(rows.size()));
      std::copy_n(rows.begin(), take, idx.begin() + size_t(t) * c.k);
      std::shuffle(idx.begin() + size_t(t) * c.k, idx.begin() + size_t(t + 1) * c.k, rng);
    }
  }
  std::vector<int32_t> idx_gpu = idx;
  if (c.stray) {  // rows the kernel must ignore: beyond the query's length
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < c.k; ++j)
        if (idx_gpu[size_t(t) * c.k + j] < 0 && j % 3 == 0)
          idx_gpu[size_t(t) * c.k + j] = c.q_len[t] + j;
  }

  int max_len = 0;
  for (int l : c.q_len) max_len = std::max(max_len, l);
  DeviceBuffer<__nv_bfloat16> d_q(q_b), d_pool(pool_b), d_out(size_t(T) * c.Hq * kVDim);
  DeviceBuffer<int32_t> d_table(layout.table), d_seq(c.q_seq), d_len(c.q_len);
  DeviceBuffer<int32_t> d_idx(sparse ? idx_gpu : std::vector<int32_t>{0});
  const size_t ws = mla_workspace_bytes(T, c.Hq, sparse ? c.k : max_len);
  DeviceBuffer<uint8_t> d_ws(ws);
  d_out.poison();
  MlaArgs a;
  a.q = d_q.get();
  a.kv_pages = d_pool.get();
  a.table = {d_table.get(), layout.max_pages, layout.page_size};
  a.q_seq = d_seq.get();
  a.q_len = d_len.get();
  a.idx = sparse ? d_idx.get() : nullptr;
  a.k = c.k;
  a.max_len = max_len;
  a.T = T;
  a.Hq = c.Hq;
  a.softmax_scale = kScale;
  a.out = d_out.get();
  a.workspace = d_ws.get();
  a.workspace_bytes = ws;
  a.kernel = kernel;
  mla_attention(a, nullptr);
  const std::vector<float> got = from_bf16(d_out.download());

  std::vector<float> want(got.size());
  for (int t = 0; t < T; ++t) {
    const int seq = c.q_seq[t];
    const int len = c.q_len[t];
    std::vector<float> kv(size_t(std::max(len, 1)) * kQkDim);
    for (int s = 0; s < len; ++s)
      std::copy_n(&pool_f[layout.row(seq, s) * kQkDim], kQkDim, &kv[size_t(s) * kQkDim]);
    std::vector<int32_t> rows;
    if (sparse) {
      rows.assign(idx.begin() + size_t(t) * c.k, idx.begin() + size_t(t + 1) * c.k);
    } else {
      rows.resize(len);
      std::iota(rows.begin(), rows.end(), 0);
    }
    engine::sparse_mla_attention(&q_f[size_t(t) * c.Hq * kQkDim], kv.data(), rows.data(), 1,
                                 c.Hq, kQkDim, kVDim, len, int(rows.size()), kScale,
                                 &want[size_t(t) * c.Hq * kVDim]);
  }
  int mismatched = 0;
  const double err = rel_l2(got, want, &mismatched);
  EXPECT_EQ(mismatched, 0) << "non-finite or unwritten outputs";
  return err;
}

// Each case runs on the kernel the device picks (warpgroup MMA on compute capability 9.0) and
// on the portable mma.sync kernel; dense cases also on the ring kernel, which the device picks
// for sparse rows anyway.
class MlaKernel : public GpuTest, public ::testing::WithParamInterface<MlaKernelChoice> {
 protected:
  double run(const MlaCase& c, uint32_t seed) const { return run_case(c, seed, GetParam()); }
};
class MlaSparseKernel : public MlaKernel {};
std::string kernel_name(const ::testing::TestParamInfo<MlaKernelChoice>& info) {
  switch (info.param) {
    case MlaKernelChoice::kAuto: return "device_default";
    case MlaKernelChoice::kRing: return "ring";
    case MlaKernelChoice::kPortable: return "portable";
  }
  return "unknown";
}
INSTANTIATE_TEST_SUITE_P(Kernels, MlaKernel,
                         ::testing::Values(MlaKernelChoice::kAuto, MlaKernelChoice::kRing,
                                           MlaKernelChoice::kPortable),
                         kernel_name);
INSTANTIATE_TEST_SUITE_P(Kernels, MlaSparseKernel,
                         ::testing::Values(MlaKernelChoice::kAuto, MlaKernelChoice::kPortable),
                         kernel_name);

// bf16 inputs, bf16 probabilities into the value product and a bf16 output: about 3e-3.
constexpr double kTol = 1e-2;

TEST_P(MlaSparseKernel, SparseDecodeOverSelectedRows) {
  // 128 heads, k = 2048 of a 5000-row context; a query with fewer rows than k (-1 padded)
  EXPECT_LT(run({{5000, 3000, 700}, {0, 1, 2}, {5000, 3000, 700}, 128, 2048}, 41), kTol);
}
TEST_P(MlaSparseKernel, SparsePrefillEachQueryItsOwnRows) {
  // many queries of one sequence at causal lengths, 64 heads, stray indices to skip
  MlaCase c{{1200}, {}, {}, 64, 256, true};
  for (int t = 0; t < 24; ++t) {
    c.q_seq.push_back(0);
    c.q_len.push_back(1200 - t * 37);
  }
  EXPECT_LT(run(c, 42), kTol);
}
TEST_P(MlaSparseKernel, SparseManyQueriesWithoutSplitting) {
  // enough queries that one block per query fills the device (no split, no merge pass)
  MlaCase c{{300, 200}, {}, {}, 64, 32};
  for (int t = 0; t < 300; ++t) {
    c.q_seq.push_back(t % 2);
    c.q_len.push_back(t % 2 ? 200 : 300);
  }
  EXPECT_LT(run(c, 43), kTol);
}
TEST_P(MlaSparseKernel, SparseFreshInputsAtSeveralSizes) {
  // k and lengths drawn per seed: lengths below k (-1 padding), slot counts that end inside
  // a tile, stray indices past the length
  for (uint32_t seed : {201u, 202u, 203u, 204u}) {
    std::mt19937 rng(seed);
    MlaCase c{{}, {}, {}, seed % 2 ? 128 : 64, 1 + int(rng() % 2048), true};
    const int T = 1 + int(rng() % 6);
    for (int t = 0; t < T; ++t) {
      c.seq_lens.push_back(1 + int(rng() % 6000));
      c.q_seq.push_back(t);
      c.q_len.push_back(c.seq_lens.back());
    }
    EXPECT_LT(run(c, seed), kTol) << "seed " << seed << " k " << c.k;
  }
}
TEST_P(MlaSparseKernel, SparseDecodeBatchFewSplitsPerQuery) {
  // a decode batch's shape: 16 and 12 queries x 128 heads, each split over 4 and 5 blocks on
  // an H100/H200; every fourth query has fewer rows than k, so its splits hold skipped slots
  for (int T : {16, 12}) {
    MlaCase c{{}, {}, {}, 128, 2048, true};
    for (int t = 0; t < T; ++t) {
      c.seq_lens.push_back(t % 4 == 3 ? 700 + 50 * t : 6000 + 123 * t);
      c.q_seq.push_back(t);
      c.q_len.push_back(c.seq_lens.back());
    }
    EXPECT_LT(run(c, 60 + T), kTol) << T << " queries";
  }
}
TEST_P(MlaKernel, DenseDecodeOverWholePrefix) {
  EXPECT_LT(run({{4100, 129, 1}, {0, 1, 2}, {4100, 129, 1}, 128, 0}, 44), kTol);
}
TEST_P(MlaKernel, DenseBatchFewSplitsPerQuery) {
  // 20 queries x 128 heads: three splits per query on the ring kernel, whose short queries
  // leave their later splits with nothing to stream
  MlaCase c{{3000, 2500, 40}, {}, {}, 128, 0};
  for (int t = 0; t < 20; ++t) {
    c.q_seq.push_back(t % 3);
    c.q_len.push_back(c.seq_lens[t % 3] - t);
  }
  EXPECT_LT(run(c, 45), kTol);
}
TEST_P(MlaKernel, DenseLongPrefixManySplits) {
  // one query over 20000 rows: split over the whole device, partial last tile, merge pass
  EXPECT_LT(run({{20000}, {0}, {20000}, 128, 0}, 46), kTol);
}
TEST_P(MlaKernel, DenseManyQueriesWithoutSplitting) {
  // enough (query, head group) pairs to fill the device: one block each, no merge pass
  MlaCase c{{333, 64, 1000}, {}, {}, 128, 0};
  for (int t = 0; t < 140; ++t) {
    c.q_seq.push_back(t % 3);
    c.q_len.push_back(t % 3 == 0 ? 333 - t : t % 3 == 1 ? 64 : 1000);
  }
  EXPECT_LT(run(c, 47), kTol);
}
TEST_P(MlaKernel, DenseShortPrefixesEveryPipelineDepth) {
  // prefixes of 1 to 10 32-row boxes (1 to 5 tiles of the Hopper dense kernel), ending
  // inside, at and just past box, tile and 64-row page boundaries; 64 and 128 heads
  for (int hq : {64, 128}) {
    MlaCase c{{1, 31, 32, 33, 64, 65, 97, 127, 128, 129, 160, 255, 289}, {}, {}, hq, 0};
    for (int s = 0; s < int(c.seq_lens.size()); ++s) {
      c.q_seq.push_back(s);
      c.q_len.push_back(c.seq_lens[s]);
    }
    EXPECT_LT(run(c, 48 + hq), kTol) << hq << " heads";
  }
}
TEST_P(MlaKernel, DenseFreshInputsAtSeveralSizes) {
  // one query per sequence, lengths drawn per seed: splits with a ragged last tile
  for (uint32_t seed : {101u, 102u, 103u}) {
    std::mt19937 rng(seed);
    MlaCase c{{}, {}, {}, 128, 0};
    const int T = 1 + int(rng() % 5);
    for (int t = 0; t < T; ++t) {
      c.seq_lens.push_back(1 + int(rng() % 9000));
      c.q_seq.push_back(t);
      c.q_len.push_back(c.seq_lens.back());
    }
    EXPECT_LT(run(c, seed), kTol) << "seed " << seed;
  }
}
TEST_P(MlaKernel, DenseRisingScoresRescaleOften) {
  // keys grow along the sequence, so most tiles raise some head's running maximum and the
  // output accumulated so far has to be rescaled; one long split-merged query, short ones
  MlaCase c{{7000, 300, 97}, {0, 1, 2}, {7000, 300, 97}, 128, 0, false, true};
  EXPECT_LT(run(c, 49), kTol);
}
TEST_P(MlaSparseKernel, SparseRisingScoresRescaleOften) {
  // the same growing keys under a shuffled selection: maxima rise in some tiles, not in others
  MlaCase c{{7000, 300, 97}, {0, 1, 2}, {7000, 300, 97}, 128, 2048, true, true};
  EXPECT_LT(run(c, 50), kTol);
}
TEST_P(MlaKernel, DensePageSizesAndUnwrittenRowsPastTheEnd) {
  // pages of one, three and four 32-row boxes; lengths that end inside a box, so a copy
  // brings rows past the end, which hold NaN here
  for (int page : {32, 96, 128}) {
    MlaCase c{{1, 45, 100, 161, 1000, 3001}, {}, {}, 128, 0};
    c.page_size = page;
    c.nan_past_end = true;
    for (int s = 0; s < int(c.seq_lens.size()); ++s) {
      c.q_seq.push_back(s);
      c.q_len.push_back(c.seq_lens[s]);
    }
    c.q_seq.push_back(5);  // a causal query inside the longest sequence
    c.q_len.push_back(2222);
    EXPECT_LT(run(c, 60 + page), kTol) << "page size " << page;
  }
}
TEST_P(MlaKernel, DenseUnevenBatchWithEmptyQueries) {
  // lengths far apart, so that the Hopper kernel's even cut of all pairs over the device puts
  // the long query over many blocks and several short ones whole in one block; queries with
  // no row get zeros; 64 and 128 heads
  for (int hq : {64, 128}) {
    MlaCase c{{0, 50000, 1, 129, 7000, 300, 2048, 64}, {}, {}, hq, 0};
    for (int s = 0; s < int(c.seq_lens.size()); ++s) {
      c.q_seq.push_back(s);
      c.q_len.push_back(c.seq_lens[s]);
    }
    c.q_seq.push_back(1);  // an empty query, a second one over sequence 4, an empty one last
    c.q_len.push_back(0);
    c.q_seq.push_back(4);
    c.q_len.push_back(6999);
    c.q_seq.push_back(1);
    c.q_len.push_back(0);
    EXPECT_LT(run(c, 70 + hq), kTol) << hq << " heads";
  }
}
TEST_P(MlaKernel, DenseCausalPrefill) {
  MlaCase c{{640}, {}, {}, 64, 0};
  for (int t = 0; t < 20; ++t) {
    c.q_seq.push_back(0);
    c.q_len.push_back(640 - t * 31);
  }
  EXPECT_LT(run(c, 45), kTol);
}

// Arguments that pass every shape check, all pointing at `storage`: each case below breaks one
// rule and must be refused before any launch, so nothing is ever read there.
MlaArgs args_over(char* storage) {
  const int32_t* ints = reinterpret_cast<const int32_t*>(storage);
  MlaArgs a;
  a.T = 1;
  a.Hq = 128;
  a.q = reinterpret_cast<const __nv_bfloat16*>(storage);
  a.kv_pages = reinterpret_cast<const __nv_bfloat16*>(storage);
  a.q_seq = a.q_len = ints;
  a.out = reinterpret_cast<__nv_bfloat16*>(storage);
  a.table = {ints, 1, 64};
  return a;
}

TEST(MlaKernelArgs, RejectsBadShapes) {
  MlaArgs a;
  a.T = 1;
  a.Hq = 96;  // not a multiple of 64
  EXPECT_THROW(mla_attention(a, nullptr), std::invalid_argument);
  a.Hq = 128;  // null pointers
  EXPECT_THROW(mla_attention(a, nullptr), std::invalid_argument);
  alignas(16) static char storage[64];
  a = args_over(storage);
  a.table.page_size = 48;  // not a multiple of 32 rows
  EXPECT_THROW(mla_attention(a, nullptr), std::invalid_argument);
  a.table.page_size = 64;
  a.kv_pages = reinterpret_cast<const __nv_bfloat16*>(storage + 8);  // not 16-byte aligned
  EXPECT_THROW(mla_attention(a, nullptr), std::invalid_argument);
}

// Past the shape checks the kernel is picked by the device, so this one needs a GPU.
class MlaKernelWorkspace : public GpuTest {};
TEST_F(MlaKernelWorkspace, ALaunchThatNeedsOneHasToGetOne) {
  alignas(16) static char storage[64];
  MlaArgs a = args_over(storage);
  a.max_len = 100000;  // split over blocks, or the dense kernel: no workspace given
  EXPECT_THROW(mla_attention(a, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::engine::gpu::testing
