// FP8 E4M3 linear layers through cuBLASLt, with DeepSeek-V3's block scaling: weights as the
// checkpoint stores them (E4M3 codes, one fp32 scale per 128x128 block), activations quantized
// per token in groups of 128 columns (fp32 scale = group amax / 448), fp32 accumulation.
//
// Scheme: cuBLASLt on Hopper (CUDA 12.9+) runs exactly this recipe: the weight operand with
// 128x128 block scales (BLK128x128_32F), the activation operand with one scale per row and
// 128-column block (VEC128_32F), each block's partial sum scaled in fp32:
// y[n][m] = sum_b ws[m/128][b] * xs[n][b] * sum_{k in block b} wq[m][k] * xq[n][k].
// K is zero-padded to a multiple of 512 (exact: padded columns
// contribute nothing): the block-scale rows then hold a multiple of 4 floats, which is the
// leading dimension cuBLASLt reads. Matrices stacked into one GEMM must start on a 128-row
// block (the runner splits stacks where they do not).
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "engine/cuda/gemm.h"

namespace envforge::engine::gpu {

constexpr int kFp8Block = 128;
constexpr int kFp8KAlign = 4 * kFp8Block;
inline int fp8_padded_k(int k) { return (k + kFp8KAlign - 1) / kFp8KAlign * kFp8KAlign; }

// Device views of an FP8 weight matrix [rows][cols].
struct Fp8Matrix {
  const uint8_t* codes = nullptr;  // [rows][k_pad] E4M3, zero in columns >= cols
  const float* scales = nullptr;   // [ceil(rows / 128)][k_pad / 128]: one per 128x128 block
  int rows = 0, cols = 0, k_pad = 0;
};

// Quantizes x [n][k] (bf16, rows ld_x apart) per row and 128-column group: q [n4][k_pad] E4M3
// codes (zeros past k), s [k_pad / 128][n4] with x ~= q * s, where n4 = n rounded up to a
// multiple of 4 (the padded rows are zeros with scale 1).
void fp8_quantize_activations(const __nv_bfloat16* x, int ld_x, int n, int k, uint8_t* q,
                              float* s, cudaStream_t stream);
// out [rows][ld_out] = codes * scales in bf16 (columns < cols); for fallbacks and tests.
void fp8_dequantize_weight(const Fp8Matrix& w, __nv_bfloat16* out, int ld_out,
                           cudaStream_t stream);

// Host: checkpoint block scales [ceil(rows/128)][ceil(cols/128)] (row-major, as stored next to
// the weight) in the layout of Fp8Matrix::scales, [ceil(rows/128)][k_pad/128] (padding 1).
std::vector<float> fp8_block_scales(const float* block_scales, int rows, int cols);

// y[i][j] (rows ld_y apart) = d[i * si + j * sj] (+ beta * y[i][j]) for i < n, j < m.
void fp8_scatter_out(const float* d, long si, long sj, int n, int m, void* y, OutType y_type,
                     int ld_y, float beta, cudaStream_t stream);

class Fp8Gemm {
 public:
  // max_n x max_k: the largest activation this object quantizes (scratch sized once, so that
  // calls can be captured into graphs).
  Fp8Gemm(cudaStream_t stream, int max_n, int max_k, size_t workspace_bytes = size_t(32) << 20);
  ~Fp8Gemm();
  Fp8Gemm(const Fp8Gemm&) = delete;
  Fp8Gemm& operator=(const Fp8Gemm&) = delete;

  // Whether cuBLASLt has an algorithm for this shape and output alignment (host-only query).
  bool supports(int m, int n, int k_pad, OutType y_type, int ld_y, bool accumulate,
                int y_align = 256);
  // Which cuBLASLt configuration runs this shape (see fp8_gemm.cc), for reports.
  std::string describe(int m, int n, int k_pad, OutType y_type, int ld_y);
  // y[r][c] = sum_k x[r][k] * w[c][k] (+ beta * y[r][c]) for r < n, c < w.rows; x is quantized
  // first (see fp8_quantize_activations). Throws std::invalid_argument for bad shapes and
  // std::runtime_error when cuBLASLt has no algorithm.
  void linear(const __nv_bfloat16* x, int ld_x, int n, const Fp8Matrix& w, void* y,
              OutType y_type, int ld_y, float beta = 0.f);
  // The same product on activations already quantized (q and s as fp8_quantize_activations
  // writes them for n rows).
  void linear_quantized(const uint8_t* q, const float* s, int n, const Fp8Matrix& w, void* y,
                        OutType y_type, int ld_y, float beta = 0.f);

  const uint8_t* act_codes() const { return act_q_; }
  const float* act_scales() const { return act_s_; }

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool ok = false;
    bool direct = true;  // D is y; else f32 into scratch_, then fp8_scatter_out
    const char* name = "";
    std::string tried;  // the heuristic's status, for describe()
  };
  using Key = std::tuple<int, int, int, int, int, bool, int>;
  Plan& plan(int m, int n, int k_pad, OutType y_type, int ld_y, bool accumulate, int y_align);

  cublasLtHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void ensure_scratch(size_t bytes);
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  uint8_t* act_q_ = nullptr;
  float* act_s_ = nullptr;
  int max_n_ = 0, max_k_ = 0;
  std::map<Key, Plan> plans_;
};

}  // namespace envforge::engine::gpu
