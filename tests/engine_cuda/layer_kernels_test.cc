// The rest-of-a-layer kernels against the CPU engine's operators (model/ops.h) on fresh random
// inputs at several sizes: RMSNorm, RoPE with YaRN in both layouts, the indexer's vector
// preparation (LayerNorm, rope, Hadamard, E4M3), SwiGLU and the cuBLAS linear layers.
#include <cmath>

#include "engine/cuda/gemm.h"
#include "engine/cuda/layer_kernels.h"
#include "engine/dtype.h"
#include "model/ops.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::engine::gpu::testing {
namespace {

class LayerKernels : public GpuTest {};

model::ModelConfig yarn_config(int rope_dim) {
  model::ModelConfig c;
  c.qk_rope_head_dim = rope_dim;
  c.rope_theta = 10000.0;
  c.yarn = true;
  c.rope_factor = 40.0;
  c.original_max_position_embeddings = 4096;
  c.beta_fast = 32;
  c.beta_slow = 1;
  return c;
}

// Host cos/sin table of the positions < max_pos, as the runner builds it.
std::vector<float2> rope_table(const model::ModelConfig& c, int max_pos) {
  const std::vector<double> f = model::rope_inv_freq(c);
  const int half = c.qk_rope_head_dim / 2;
  std::vector<float2> t(size_t(max_pos) * half);
  for (int p = 0; p < max_pos; ++p)
    for (int i = 0; i < half; ++i)
      t[size_t(p) * half + i] =
          make_float2(float(std::cos(double(p) * f[i])), float(std::sin(double(p) * f[i])));
  return t;
}

TEST_F(LayerKernels, RmsNormMatchesCpu) {
  std::mt19937 rng(11);
  for (auto [n, d] : {std::pair{1, 64}, {7, 160}, {33, 1536}, {5, 7168}}) {
    const auto x = random_normal(rng, size_t(n) * d, 2.f);
    const auto w = random_normal(rng, d, 1.f);
    DeviceBuffer<float> dx(x), dw(w), out(size_t(n) * d);
    DeviceBuffer<__nv_bfloat16> out_bf(size_t(n) * d);
    out.poison();
    out_bf.poison();
    rms_norm(dx.get(), d, dw.get(), n, d, 1e-6, out.get(), out_bf.get(), d, nullptr);
    std::vector<float> want(x.size());
    model::rms_norm(x.data(), w.data(), n, d, 1e-6, want.data());
    int bad = 0;
    EXPECT_LT(rel_l2(out.download(), want, &bad), 1e-6) << n << "x" << d;
    EXPECT_EQ(bad, 0);
    EXPECT_LT(rel_l2(from_bf16(out_bf.download()), want, &bad), 4e-3) << n << "x" << d;
    EXPECT_EQ(bad, 0);
  }
}

TEST_F(LayerKernels, RopeYarnBothLayoutsMatchCpu) {
  std::mt19937 rng(12);
  for (int rope_dim : {8, 64}) {
    const model::ModelConfig c = yarn_config(rope_dim);
    const std::vector<double> inv = model::rope_inv_freq(c);
    const int max_pos = 131072, rows = 19, heads = 3, head_stride = 96, offset = 16;
    const long row_stride = heads * head_stride + 5;
    DeviceBuffer<float2> table(rope_table(c, max_pos));
    const RopeTable tab{table.get(), max_pos, rope_dim};
    std::vector<int32_t> pos(rows);
    std::uniform_int_distribution<int> any(0, max_pos - 1);
    for (int32_t& p : pos) p = any(rng);
    pos[0] = 0;
    for (bool interleaved : {true, false}) {
      const auto x = random_normal(rng, size_t(rows) * row_stride);
      DeviceBuffer<float> dx(x);
      DeviceBuffer<int32_t> dpos(pos);
      rope(dx.get(), rows, heads, row_stride, head_stride, offset, dpos.get(), tab, interleaved,
           nullptr);
      std::vector<float> want = x;
      for (int r = 0; r < rows; ++r)
        for (int h = 0; h < heads; ++h) {
          float* v = want.data() + r * row_stride + h * head_stride + offset;
          if (interleaved)
            model::rope_interleaved(v, rope_dim, pos[r], inv);
          else
            model::rope_half(v, rope_dim, pos[r], inv);
        }
      int bad = 0;
      EXPECT_LT(rel_l2(dx.download(), want, &bad), 1e-6)
          << "rope " << rope_dim << (interleaved ? " interleaved" : " half");
      EXPECT_EQ(bad, 0);
    }
  }
}

// CPU reference of one index vector: optional LayerNorm, rope_half, Hadamard, E4M3.
void cpu_index_vector(std::vector<float> v, const float* lw, const float* lb, int pos,
                      const std::vector<double>& inv, int rope_dim, std::vector<uint8_t>& codes,
                      float& scale) {
  const int dim = int(v.size());
  if (lw) model::layer_norm(v.data(), lw, lb, 1, dim, 1e-6);
  model::rope_half(v.data(), rope_dim, pos, inv);
  model::hadamard(v.data(), dim);
  codes.resize(dim);
  model::fp8_quantize(v.data(), dim, codes.data(), &scale);
}

TEST_F(LayerKernels, IndexVectorsMatchCpu) {
  std::mt19937 rng(13);
  for (auto [dim, rope_dim, heads] : {std::tuple{16, 8, 4}, {32, 16, 4}, {128, 64, 64}}) {
    const model::ModelConfig c = yarn_config(rope_dim);
    const std::vector<double> inv = model::rope_inv_freq(c);
    const int max_pos = 4096, rows = 23;
    DeviceBuffer<float2> table(rope_table(c, max_pos));
    const RopeTable tab{table.get(), max_pos, rope_dim};
    std::vector<int32_t> pos(rows), seq(rows);
    for (int r = 0; r < rows; ++r) {  // two sequences, distinct positions in each
      seq[r] = r % 2;
      pos[r] = r / 2 * 7 + (r % 2) * 3;
    }
    const auto x = random_normal(rng, size_t(rows) * heads * dim, 1.5f);
    const auto lw = random_normal(rng, dim), lb = random_normal(rng, dim, 0.3f);
    DeviceBuffer<float> dx(x), dlw(lw), dlb(lb);
    DeviceBuffer<int32_t> dpos(pos), dseq(seq);
    int mismatched = 0, total = 0;
    double err = 0, ref = 0;
    auto compare = [&](const std::vector<uint8_t>& got, float got_scale,
                       const std::vector<uint8_t>& want, float want_scale, int out_dim) {
      EXPECT_NEAR(got_scale, want_scale, 1e-6f * want_scale);
      for (int i = 0; i < out_dim; ++i) {
        if (i >= int(want.size())) {
          EXPECT_EQ(got[i], 0) << "padding";
          continue;
        }
        ++total;
        mismatched += got[i] != want[i];
        const double g = fp8_e4m3_to_f32(got[i]) * got_scale, w = fp8_e4m3_to_f32(want[i]) * want_scale;
        err += (g - w) * (g - w);
        ref += w * w;
      }
    };
    // queries: dense [rows][64][128] destination with padded heads, no LayerNorm
    {
      DeviceBuffer<uint8_t> codes(size_t(rows) * 64 * 128);
      DeviceBuffer<float> scales(size_t(rows) * 64);
      codes.poison();
      scales.poison();
      IndexVectorArgs a;
      a.x = dx.get();
      a.row_stride = long(heads) * dim;
      a.rows = rows, a.heads = heads, a.dim = dim, a.pos = dpos.get(), a.table = tab;
      a.out_codes = codes.get(), a.out_scale = scales.get(), a.out_heads = 64, a.out_dim = 128;
      index_vectors(a, nullptr);
      const auto got = codes.download();
      const auto gs = scales.download();
      for (int r = 0; r < rows; ++r)
        for (int h = 0; h < 64; ++h) {
          const size_t at = (size_t(r) * 64 + h) * 128;
          std::vector<uint8_t> g(got.begin() + at, got.begin() + at + 128), want;
          float ws = 1.f;
          if (h < heads) {
            std::vector<float> v(x.begin() + (size_t(r) * heads + h) * dim,
                                 x.begin() + (size_t(r) * heads + h + 1) * dim);
            cpu_index_vector(v, nullptr, nullptr, pos[r], inv, rope_dim, want, ws);
          }
          compare(g, gs[size_t(r) * 64 + h], want, ws, 128);
        }
    }
    // keys: LayerNorm, one head each, into a paged cache of 2 sequences
    {
      const int page_size = 32, max_pages = 8, num_pages = 17;
      std::vector<int32_t> tablev(2 * max_pages);
      for (int i = 0; i < 2 * max_pages; ++i) tablev[i] = (i * 5 + 3) % num_pages;
      DeviceBuffer<int32_t> dtable(tablev);
      DeviceBuffer<uint8_t> codes(size_t(num_pages) * page_size * 128);
      DeviceBuffer<float> scales(size_t(num_pages) * page_size);
      codes.poison();
      scales.poison();
      IndexVectorArgs a;
      a.x = dx.get();
      a.row_stride = long(heads) * dim;  // the first head's values of every row
      a.rows = rows, a.heads = 1, a.dim = dim, a.pos = dpos.get(), a.table = tab;
      a.ln_w = dlw.get(), a.ln_b = dlb.get();
      a.out_codes = codes.get(), a.out_scale = scales.get(), a.out_heads = 1, a.out_dim = 128;
      a.table_pages = dtable.get(), a.seq = dseq.get(), a.max_pages = max_pages;
      a.page_size = page_size;
      index_vectors(a, nullptr);
      const auto got = codes.download();
      const auto gs = scales.download();
      for (int r = 0; r < rows; ++r) {
        const size_t slot = size_t(tablev[seq[r] * max_pages + pos[r] / page_size]) * page_size +
                            pos[r] % page_size;
        std::vector<uint8_t> g(got.begin() + slot * 128, got.begin() + (slot + 1) * 128), want;
        std::vector<float> v(x.begin() + size_t(r) * heads * dim,
                             x.begin() + size_t(r) * heads * dim + dim);
        float ws = 0.f;
        cpu_index_vector(v, lw.data(), lb.data(), pos[r], inv, rope_dim, want, ws);
        compare(g, gs[slot], want, ws, 128);
      }
    }
    // Codes may differ by one step where a value sits on a rounding boundary (fused
    // multiply-adds in the rope); nearly all must be identical.
    EXPECT_LE(mismatched, total / 100) << "dim " << dim;
    EXPECT_LT(std::sqrt(err / ref), 1e-2) << "dim " << dim;
  }
}

TEST_F(LayerKernels, SiluMulMatchesCpu) {
  std::mt19937 rng(14);
  for (auto [rows, inter] : {std::pair{3, 32}, {40, 2048}}) {
    const int ld = 2 * inter + 8;
    const auto gu = random_normal(rng, size_t(rows) * ld, 3.f);
    DeviceBuffer<float> dgu(gu);
    DeviceBuffer<__nv_bfloat16> out(size_t(rows) * inter);
    out.poison();
    silu_mul(dgu.get(), ld, rows, inter, out.get(), nullptr);
    std::vector<float> want(size_t(rows) * inter);
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < inter; ++i) {
        const float g = gu[size_t(r) * ld + i], u = gu[size_t(r) * ld + inter + i];
        want[size_t(r) * inter + i] = g / (1.f + std::exp(-g)) * u;
      }
    int bad = 0;
    EXPECT_LT(rel_l2(from_bf16(out.download()), want, &bad), 4e-3);
    EXPECT_EQ(bad, 0);
  }
}

TEST_F(LayerKernels, SortSelectedRowsAscendingEmptyLast) {
  std::mt19937 rng(16);
  for (auto [T, k] : {std::pair{3, 16}, {5, 64}, {2, 2048}, {4, 100}}) {
    std::vector<int32_t> idx(size_t(T) * k);
    std::uniform_int_distribution<int> any(0, 1 << 20);
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < k; ++j) idx[size_t(t) * k + j] = j % 7 == 3 ? -1 : any(rng);
    DeviceBuffer<int32_t> d(idx);
    sort_selected_rows(d.get(), T, k, nullptr);
    const auto got = d.download();
    for (int t = 0; t < T; ++t) {
      std::vector<int32_t> want(idx.begin() + size_t(t) * k, idx.begin() + size_t(t + 1) * k);
      std::sort(want.begin(), want.end(), [](int32_t a, int32_t b) {
        return (a < 0 ? INT32_MAX : a) < (b < 0 ? INT32_MAX : b);
      });
      EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin() + size_t(t) * k))
          << "row " << t << " of " << T << "x" << k;
    }
  }
}

TEST_F(LayerKernels, LinearAndBatchedMatchCpu) {
  std::mt19937 rng(15);
  cudaStream_t stream = nullptr;
  ENVFORGE_CUDA_CHECK(cudaStreamCreate(&stream));
  {
    Blas blas(stream);
    for (auto [n, m, k] : {std::tuple{1, 64, 64}, {13, 288, 160}, {70, 1536, 7168}}) {
      const auto x = from_bf16(to_bf16(random_normal(rng, size_t(n) * k)));
      const auto w = from_bf16(to_bf16(random_normal(rng, size_t(m) * k, 0.05f)));
      const auto y0 = random_normal(rng, size_t(n) * m);
      DeviceBuffer<__nv_bfloat16> dx(to_bf16(x)), dw(to_bf16(w)), ybf(size_t(n) * m);
      DeviceBuffer<float> y(y0);
      ybf.poison();
      blas.linear(dx.get(), k, dw.get(), n, m, k, y.get(), OutType::kF32, m, 1.f);
      blas.linear(dx.get(), k, dw.get(), n, m, k, ybf.get(), OutType::kBf16, m);
      std::vector<float> want(size_t(n) * m), want_acc(size_t(n) * m);
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < m; ++c) {
          double s = 0;
          for (int j = 0; j < k; ++j) s += double(x[size_t(r) * k + j]) * w[size_t(c) * k + j];
          want[size_t(r) * m + c] = float(s);
          want_acc[size_t(r) * m + c] = float(s + y0[size_t(r) * m + c]);
        }
      int bad = 0;
      EXPECT_LT(rel_l2(y.download(), want_acc, &bad), 1e-5) << n << "x" << m << "x" << k;
      EXPECT_EQ(bad, 0);
      EXPECT_LT(rel_l2(from_bf16(ybf.download()), want, &bad), 4e-3);
      EXPECT_EQ(bad, 0);
    }
    // per-head products as the runner's query absorption uses them
    const int heads = 4, n = 9, m = 32, k = 16;
    const auto a = from_bf16(to_bf16(random_normal(rng, size_t(heads) * k * m)));
    const auto b = from_bf16(to_bf16(random_normal(rng, size_t(n) * heads * k)));
    DeviceBuffer<__nv_bfloat16> da(to_bf16(a)), db(to_bf16(b));
    DeviceBuffer<float> dc(size_t(n) * heads * m);
    dc.poison();
    // c[t][h][i] = sum_j a[h][j][i] * b[t][h][j]
    blas.batched(false, false, m, n, k, da.get(), m, long(k) * m, db.get(), heads * k, k,
                 dc.get(), OutType::kF32, heads * m, m, heads);
    std::vector<float> want(size_t(n) * heads * m);
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < m; ++i) {
          double s = 0;
          for (int j = 0; j < k; ++j)
            s += double(a[(size_t(h) * k + j) * m + i]) * b[(size_t(t) * heads + h) * k + j];
          want[(size_t(t) * heads + h) * m + i] = float(s);
        }
    int bad = 0;
    EXPECT_LT(rel_l2(dc.download(), want, &bad), 1e-5);
    EXPECT_EQ(bad, 0);
    EXPECT_THROW(blas.linear(nullptr, 4, nullptr, 1, 0, 4, nullptr, OutType::kF32, 4),
                 std::invalid_argument);
  }
  ENVFORGE_CUDA_CHECK(cudaStreamDestroy(stream));
}

}  // namespace
}  // namespace envforge::engine::gpu::testing
