// Top-k kernel against engine::topk_indices: the same index sets (the kernel's order within a
// row is free), with causal row lengths, ties, non-finite values and rows shorter than k.
#include <limits>
#include <set>
#include <stdexcept>

#include "engine/dsa_ops.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::engine::gpu::testing {
namespace {

enum class Fill { kNormal, kFewLevels, kAllEqual, kWithNonFinite };

struct Row {
  Fill fill;
  int visible;  // q_pos + 1
};

void check_rows(const std::vector<Row>& rows, int S, int k, uint32_t seed) {
  std::mt19937 rng(seed);
  const int T = int(rows.size());
  std::vector<float> scores(size_t(T) * S);
  std::vector<int32_t> q_pos(T);
  const float inf = std::numeric_limits<float>::infinity();
  for (int t = 0; t < T; ++t) {
    std::normal_distribution<float> normal(0.f, 3.f);
    std::uniform_int_distribution<int> level(0, 7);
    q_pos[t] = rows[t].visible - 1;
    for (int s = 0; s < S; ++s) {
      float v = normal(rng);
      switch (rows[t].fill) {
        case Fill::kFewLevels: v = float(level(rng)) * 0.5f - 1.f; break;
        case Fill::kAllEqual: v = 0.25f; break;
        case Fill::kWithNonFinite:
          if (s % 97 == 5) v = std::numeric_limits<float>::quiet_NaN();
          if (s % 101 == 7) v = inf;
          if (s % 89 == 3) v = -inf;
          break;
        default: break;
      }
      // the indexer's causal mask
      scores[size_t(t) * S + s] = s < rows[t].visible ? v : -inf;
    }
  }
  DeviceBuffer<float> d_scores(scores);
  DeviceBuffer<int32_t> d_pos(q_pos), d_out(size_t(T) * k);
  d_out.poison();
  topk_indices(d_scores.get(), d_pos.get(), T, S, k, d_out.get(), nullptr);
  const std::vector<int32_t> got = d_out.download();
  std::vector<int32_t> want(size_t(T) * k);
  engine::topk_indices(scores.data(), T, S, k, want.data());

  for (int t = 0; t < T; ++t) {
    std::multiset<int32_t> g(got.begin() + size_t(t) * k, got.begin() + size_t(t + 1) * k);
    std::multiset<int32_t> w(want.begin() + size_t(t) * k, want.begin() + size_t(t + 1) * k);
    EXPECT_EQ(g.count(-1), w.count(-1)) << "row " << t << ": number of empty slots";
    // Equal values may be chosen differently only at the k-th value; both implementations
    // break ties by the lower index, so the sets must agree exactly.
    std::vector<int32_t> only_gpu, only_cpu;
    std::set_difference(g.begin(), g.end(), w.begin(), w.end(), std::back_inserter(only_gpu));
    std::set_difference(w.begin(), w.end(), g.begin(), g.end(), std::back_inserter(only_cpu));
    EXPECT_TRUE(only_gpu.empty() && only_cpu.empty())
        << "row " << t << " (visible " << rows[t].visible << "): " << only_gpu.size()
        << " indices only on the GPU (first " << (only_gpu.empty() ? -2 : only_gpu[0]) << "), "
        << only_cpu.size() << " only on the CPU";
    for (int32_t i : g) {
      if (i < 0) continue;
      ASSERT_LT(i, rows[t].visible) << "row " << t << " selected a masked column";
      ASSERT_TRUE(std::isfinite(scores[size_t(t) * S + i])) << "row " << t;
    }
  }
}

class TopkKernel : public GpuTest {};

TEST_F(TopkKernel, Selects2048Of128KWithCausalRows) {
  check_rows({{Fill::kNormal, 131072}, {Fill::kNormal, 100003}, {Fill::kNormal, 4097},
              {Fill::kNormal, 2048}, {Fill::kNormal, 1500}, {Fill::kNormal, 1}},
             131072, 2048, 31);
}
TEST_F(TopkKernel, BreaksTiesByLowerIndex) {
  // eight distinct values over 60K columns: thousands tie at the k-th value
  check_rows({{Fill::kFewLevels, 60000}, {Fill::kFewLevels, 9000}}, 60000, 2048, 32);
}
TEST_F(TopkKernel, HandlesRowsOfOneValue) {
  // the threshold bin holds every column: refinement over the row in global memory
  check_rows({{Fill::kAllEqual, 40000}, {Fill::kAllEqual, 3000}}, 40000, 2048, 33);
}
TEST_F(TopkKernel, SkipsNanAndInfinities) {
  check_rows({{Fill::kWithNonFinite, 32768}, {Fill::kWithNonFinite, 2100}}, 32768, 2048, 34);
}
TEST_F(TopkKernel, ManyRowsUseSmallerClusters) {
  // with many rows in flight each row gets fewer blocks (down to one): 30 and 300 rows
  std::vector<Row> rows;
  for (int t = 0; t < 300; ++t)
    rows.push_back({t % 3 == 0 ? Fill::kFewLevels : Fill::kNormal, 2500 + t * 17});
  check_rows(std::vector<Row>(rows.begin(), rows.begin() + 30), 8000, 2048, 36);
  check_rows(rows, 8000, 2048, 37);
}
TEST_F(TopkKernel, SmallKAndOddWidths) {
  check_rows({{Fill::kNormal, 777}, {Fill::kNormal, 5}, {Fill::kFewLevels, 777}}, 777, 16, 35);
}

TEST_F(TopkKernel, DecodeBatchOnFreshInputs) {
  // a decode step's shape (16 rows of up to 128K columns) with causal lengths and seeds drawn
  // anew on every run
  std::random_device dev;
  std::mt19937 rng(dev());
  std::uniform_int_distribution<int> len(1, 131072);
  std::vector<Row> rows;
  for (int t = 0; t < 16; ++t)
    rows.push_back({t % 5 == 4 ? Fill::kFewLevels : Fill::kNormal, len(rng)});
  const uint32_t seed = dev();
  SCOPED_TRACE("seed " + std::to_string(seed));
  check_rows(rows, 131072, 2048, seed);
}

TEST(TopkKernelArgs, RejectsBadShapes) {
  float f = 0;
  int32_t i = 0;
  EXPECT_THROW(topk_indices(&f, nullptr, 1, 1, -1, &i, nullptr), std::invalid_argument);
  EXPECT_THROW(topk_indices(nullptr, nullptr, 1, 1, 1, &i, nullptr), std::invalid_argument);
  EXPECT_THROW(topk_indices(&f, nullptr, -3, 1, 1, &i, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::engine::gpu::testing
