// FP8 linear layer (cuBLASLt, block-scaled weights, per-token 1x128 activation groups) against a
// plain host reference on fresh random inputs at several shapes.
//
// Weights use 128x128 block scales (the checkpoint's), activations 1x128 (cuBLASLt BLK128x128 x
// VEC128). Bounds: (1) activation codes and scales equal the host's quantization exactly (same IEEE
// division and round-to-nearest saturating E4M3 conversion); (2) the product equals the double
// precision product of the same quantized operands to a relative L2 error < 1e-3 (the tensor
// cores accumulate each 128-wide block in reduced precision before the fp32 scale is applied),
// < 5e-3 where the result passes through bf16;
// (3) against the unquantized product (bf16 activations, dequantized weights) the error is the
// activations' E4M3 rounding, ~3.6% RMS per element: relative L2 < 6e-2.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "engine/cuda/fp8_gemm.h"
#include "tests/engine_cuda/gpu_test_util.h"

namespace envforge::engine::gpu::testing {
namespace {

struct HostFp8Weight {
  std::vector<uint8_t> codes;    // [rows][k_pad]
  std::vector<float> block;      // [ceil(rows/128)][ceil(cols/128)], as a checkpoint stores them
  std::vector<float> dequant;    // [rows][cols]
};

// Quantizes w [rows][cols] per 128x128 block (scale = block amax / 448), as DeepSeek's weights.
HostFp8Weight quantize_weight(const std::vector<float>& w, int rows, int cols) {
  HostFp8Weight h;
  const int kp = fp8_padded_k(cols), kb = (cols + 127) / 128, rb = (rows + 127) / 128;
  h.codes.assign(size_t(rows) * kp, 0);
  h.block.assign(size_t(rb) * kb, 1.f);
  h.dequant.assign(size_t(rows) * cols, 0.f);
  for (int i = 0; i < rb; ++i)
    for (int j = 0; j < kb; ++j) {
      float amax = 0.f;
      for (int r = i * 128; r < std::min(rows, i * 128 + 128); ++r)
        for (int c = j * 128; c < std::min(cols, j * 128 + 128); ++c)
          amax = std::max(amax, std::fabs(w[size_t(r) * cols + c]));
      const float s = amax > 0.f ? amax / 448.f : 1.f;
      h.block[size_t(i) * kb + j] = s;
      for (int r = i * 128; r < std::min(rows, i * 128 + 128); ++r)
        for (int c = j * 128; c < std::min(cols, j * 128 + 128); ++c) {
          const __nv_fp8_e4m3 q(w[size_t(r) * cols + c] / s);
          h.codes[size_t(r) * kp + c] = q.__x;
          h.dequant[size_t(r) * cols + c] = float(q) * s;
        }
    }
  return h;
}

double rel_l2_plain(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

struct Fp8Case {
  int m, n, k;
  OutType out;
  bool accumulate;
};

void run_case(const Fp8Case& c, uint32_t seed) {
  SCOPED_TRACE("m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
               " k=" + std::to_string(c.k) + " seed=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const int kp = fp8_padded_k(c.k), kb = kp / 128;
  // weights with a spread of magnitudes per block, so the scales matter
  std::vector<float> w = random_normal(rng, size_t(c.m) * c.k, 0.05f);
  for (size_t i = 0; i < w.size(); ++i) w[i] *= 1.f + float((i / c.k) % 7);
  const HostFp8Weight hw = quantize_weight(w, c.m, c.k);
  const std::vector<float> block_scales = fp8_block_scales(hw.block.data(), c.m, c.k);
  const int ld_x = c.k + 8;  // rows of x not dense
  std::vector<float> xf = random_normal(rng, size_t(c.n) * ld_x, 2.f);
  const std::vector<__nv_bfloat16> xb = to_bf16(xf);
  const std::vector<float> x = from_bf16(xb);

  // host quantization of the activations (codes [n4][kp], scales [kb][n4]; n4 = n rounded up
  // to 4, the padded tokens zero with scale 1)
  const int n4 = (c.n + 3) / 4 * 4;
  std::vector<uint8_t> xq(size_t(n4) * kp, 0);
  std::vector<float> xs(size_t(kb) * n4, 1.f);
  for (int r = 0; r < c.n; ++r)
    for (int b = 0; b < kb; ++b) {
      float amax = 0.f;
      for (int j = b * 128; j < std::min(c.k, b * 128 + 128); ++j)
        amax = std::max(amax, std::fabs(x[size_t(r) * ld_x + j]));
      const float s = amax > 0.f ? amax / 448.f : 1.f;
      xs[size_t(b) * n4 + r] = s;
      for (int j = b * 128; j < std::min(c.k, b * 128 + 128); ++j)
        xq[size_t(r) * kp + j] = __nv_fp8_e4m3(x[size_t(r) * ld_x + j] / s).__x;
    }

  const int ld_y = c.m + 4;
  const size_t ysz = size_t(c.n) * ld_y;
  std::vector<float> y0 = random_normal(rng, ysz);
  auto e4m3 = [](uint8_t b) {
    __nv_fp8_e4m3 v;
    v.__x = b;
    return double(float(v));
  };
  std::vector<double> want_q(size_t(c.n) * c.m), want_f(size_t(c.n) * c.m);
  for (int r = 0; r < c.n; ++r)
    for (int o = 0; o < c.m; ++o) {
      double acc_q = 0, acc_f = 0;
      for (int b = 0; b < kb; ++b) {
        double part = 0;
        for (int j = b * 128; j < std::min(c.k, b * 128 + 128); ++j)
          part += e4m3(hw.codes[size_t(o) * kp + j]) * e4m3(xq[size_t(r) * kp + j]);
        acc_q += part * block_scales[size_t(o / 128) * kb + b] * xs[size_t(b) * n4 + r];
      }
      for (int j = 0; j < c.k; ++j)
        acc_f += double(hw.dequant[size_t(o) * c.k + j]) * x[size_t(r) * ld_x + j];
      const double base = c.accumulate ? double(y0[size_t(r) * ld_y + o]) : 0.0;
      want_q[size_t(r) * c.m + o] = acc_q + base;
      want_f[size_t(r) * c.m + o] = acc_f + base;
    }

  DeviceBuffer<uint8_t> d_codes(hw.codes);
  DeviceBuffer<float> d_scales(block_scales);
  DeviceBuffer<__nv_bfloat16> d_x(xb);
  Fp8Matrix wm{d_codes.get(), d_scales.get(), c.m, c.k, kp};
  Fp8Gemm gemm(nullptr, c.n + 3, c.k);
  ASSERT_TRUE(gemm.supports(c.m, c.n, kp, c.out, ld_y, c.accumulate));

  std::vector<float> got(size_t(c.n) * c.m);
  if (c.out == OutType::kF32) {
    DeviceBuffer<float> d_y(ysz);
    if (c.accumulate) d_y.upload(y0); else d_y.poison();
    gemm.linear(d_x.get(), ld_x, c.n, wm, d_y.get(), c.out, ld_y, c.accumulate ? 1.f : 0.f);
    const std::vector<float> y = d_y.download();
    for (int r = 0; r < c.n; ++r)
      for (int o = 0; o < c.m; ++o) got[size_t(r) * c.m + o] = y[size_t(r) * ld_y + o];
  } else {
    DeviceBuffer<__nv_bfloat16> d_y(ysz);
    d_y.poison();
    gemm.linear(d_x.get(), ld_x, c.n, wm, d_y.get(), c.out, ld_y, 0.f);
    const std::vector<float> y = from_bf16(d_y.download());
    for (int r = 0; r < c.n; ++r)
      for (int o = 0; o < c.m; ++o) got[size_t(r) * c.m + o] = y[size_t(r) * ld_y + o];
  }

  // (1) the device's quantization of x is the host's
  std::vector<uint8_t> gq(size_t(n4) * kp);
  std::vector<float> gs(size_t(kb) * n4);
  ENVFORGE_CUDA_CHECK(cudaMemcpy(gq.data(), gemm.act_codes(), gq.size(), cudaMemcpyDeviceToHost));
  ENVFORGE_CUDA_CHECK(
      cudaMemcpy(gs.data(), gemm.act_scales(), gs.size() * 4, cudaMemcpyDeviceToHost));
  EXPECT_EQ(gq, xq);
  EXPECT_EQ(gs, xs);
  // (2) the product of the quantized operands; a bf16 result (asked for, or cuBLASLt's bf16
  // output staged in scratch) adds its own rounding (2^-9)
  const std::string how = gemm.describe(c.m, c.n, kp, c.out, ld_y);
  const bool bf16_result = c.out == OutType::kBf16 || how.find("bf16") != std::string::npos;
  const double bound_q = bf16_result ? 5e-3 : 1e-3;
  std::printf("fp8 linear m=%d n=%d k=%d: %s\n", c.m, c.n, c.k, how.c_str());
  EXPECT_LT(rel_l2_plain(got, want_q), bound_q);
  // (3) against the unquantized activations
  EXPECT_LT(rel_l2_plain(got, want_f), 6e-2);
}

class Fp8GemmTest : public GpuTest {};

uint32_t fresh_seed() { return std::random_device{}(); }

TEST_F(Fp8GemmTest, MatchesReferenceOnSmallUnalignedShapes) {
  run_case({96, 5, 160, OutType::kF32, false}, fresh_seed());
  run_case({200, 33, 300, OutType::kF32, false}, fresh_seed());
  run_case({48, 1, 96, OutType::kBf16, false}, fresh_seed());
}
TEST_F(Fp8GemmTest, AccumulatesIntoOutput) {
  run_case({160, 7, 256, OutType::kF32, true}, fresh_seed());
}
TEST_F(Fp8GemmTest, MatchesReferenceAtDeepSeekShapes) {
  // q_a ++ kv_a ++ indexer wk over the hidden state, q_b over the q latent, o_proj
  run_case({1536 + 576 + 128, 16, 7168, OutType::kF32, false}, fresh_seed());
  run_case({128 * 192, 4, 1536, OutType::kF32, false}, fresh_seed());
  run_case({7168, 2, 128 * 128, OutType::kF32, true}, fresh_seed());
}

TEST_F(Fp8GemmTest, DequantizesWeightsExactly) {
  std::mt19937 rng(fresh_seed());
  const int rows = 130, cols = 200;
  const HostFp8Weight hw = quantize_weight(random_normal(rng, size_t(rows) * cols), rows, cols);
  const std::vector<float> rs = fp8_block_scales(hw.block.data(), rows, cols);
  DeviceBuffer<uint8_t> d_codes(hw.codes);
  DeviceBuffer<float> d_scales(rs);
  DeviceBuffer<__nv_bfloat16> d_out(size_t(rows) * cols);
  d_out.poison();
  fp8_dequantize_weight({d_codes.get(), d_scales.get(), rows, cols, fp8_padded_k(cols)},
                        d_out.get(), cols, nullptr);
  const std::vector<float> got = from_bf16(d_out.download());
  const std::vector<float> want = from_bf16(to_bf16(hw.dequant));
  EXPECT_EQ(got, want);
}

TEST(Fp8GemmArgs, BlockScalesArePaddedToTheGemmLayout) {
  // 3 row blocks x 2 column blocks; K = 200 pads to 512 (4 column blocks, padding scale 1)
  const std::vector<float> block = {1, 2, 3, 4, 5, 6};
  const std::vector<float> bs = fp8_block_scales(block.data(), 300, 200);
  EXPECT_EQ(bs, (std::vector<float>{1, 2, 1, 1, 3, 4, 1, 1, 5, 6, 1, 1}));
  EXPECT_EQ(fp8_padded_k(200), 512);
  EXPECT_EQ(fp8_padded_k(7168), 7168);
}

TEST(Fp8GemmArgs, RejectsBadShapes) {
  EXPECT_THROW(fp8_quantize_activations(nullptr, 10, 1, 20, nullptr, nullptr, nullptr),
               std::invalid_argument);
  EXPECT_THROW(fp8_dequantize_weight({nullptr, nullptr, 4, 100, 100}, nullptr, 100, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace envforge::engine::gpu::testing
