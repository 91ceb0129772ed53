// Activation quantization and weight dequantization for the FP8 linear layers (fp8_gemm.h).
#include <cuda_fp8.h>

#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_gemm.h"

namespace envforge::engine::gpu {
namespace {

constexpr float kE4M3Max = 448.f;

// One warp per (row, 128-column group): 4 values per lane, amax over the warp.
__global__ void quantize_kernel(const __nv_bfloat16* x, int ld_x, int n, int n4, int k,
                                int groups, uint8_t* q, float* s) {
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
  if (warp >= n4 * groups) return;
  const int r = warp / groups, g = warp % groups;
  const int c0 = g * kFp8Block + lane * 4;
  float v[4];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[i] = r < n && c0 + i < k ? __bfloat162float(x[size_t(r) * ld_x + c0 + i]) : 0.f;
    amax = fmaxf(amax, fabsf(v[i]));
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  // DeepSeek's act_quant: scale = amax / 448, codes of x / scale (an all-zero group gets 1)
  const float scale = amax > 0.f ? amax / kE4M3Max : 1.f;
  uint32_t packed = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const __nv_fp8_storage_t c = __nv_cvt_float_to_fp8(v[i] / scale, __NV_SATFINITE, __NV_E4M3);
    packed |= uint32_t(c) << (8 * i);
  }
  const int k_pad = groups * kFp8Block;
  *reinterpret_cast<uint32_t*>(q + size_t(r) * k_pad + c0) = packed;
  if (lane == 0) s[size_t(g) * n4 + r] = scale;
}

__global__ void dequantize_kernel(Fp8Matrix w, __nv_bfloat16* out, int ld_out) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(w.rows) * w.cols) return;
  const int r = int(i / w.cols), c = int(i % w.cols);
  const __half_raw h = __nv_cvt_fp8_to_halfraw(w.codes[size_t(r) * w.k_pad + c], __NV_E4M3);
  const float v = __half2float(__half(h)) *
                  w.scales[size_t(r / kFp8Block) * (w.k_pad / kFp8Block) + c / kFp8Block];
  out[size_t(r) * ld_out + c] = __float2bfloat16(v);
}

template <class T>
__global__ void scatter_out_kernel(const float* d, long si, long sj, int n, int m, T* y,
                                   int ld_y, float beta) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(n) * m) return;
  const int r = int(i / m), c = int(i % m);
  float v = d[r * si + c * sj];
  T& out = y[size_t(r) * ld_y + c];
  if (beta != 0.f) v += beta * float(out);
  out = T(v);
}

}  // namespace

void fp8_scatter_out(const float* d, long si, long sj, int n, int m, void* y, OutType y_type,
                     int ld_y, float beta, cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  if (total == 0) return;
  const int blocks = int((total + 255) / 256);
  if (y_type == OutType::kF32) {
    scatter_out_kernel<float><<<blocks, 256, 0, stream>>>(d, si, sj, n, m,
                                                          static_cast<float*>(y), ld_y, beta);
  } else {
    scatter_out_kernel<__nv_bfloat16><<<blocks, 256, 0, stream>>>(
        d, si, sj, n, m, static_cast<__nv_bfloat16*>(y), ld_y, beta);
  }
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void fp8_quantize_activations(const __nv_bfloat16* x, int ld_x, int n, int k, uint8_t* q,
                              float* s, cudaStream_t stream) {
  if (n < 0 || k <= 0 || ld_x < k)
    throw std::invalid_argument("fp8_quantize_activations: bad shape n=" + std::to_string(n) +
                                " k=" + std::to_string(k) + " ld_x=" + std::to_string(ld_x));
  if (n == 0) return;
  const int groups = fp8_padded_k(k) / kFp8Block, n4 = (n + 3) / 4 * 4;
  const long warps = long(n4) * groups;
  const int threads = 256;
  quantize_kernel<<<int((warps * 32 + threads - 1) / threads), threads, 0, stream>>>(
      x, ld_x, n, n4, k, groups, q, s);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

void fp8_dequantize_weight(const Fp8Matrix& w, __nv_bfloat16* out, int ld_out,
                           cudaStream_t stream) {
  if (w.rows <= 0 || w.cols <= 0 || w.k_pad != fp8_padded_k(w.cols) || ld_out < w.cols)
    throw std::invalid_argument("fp8_dequantize_weight: bad shape");
  const size_t total = size_t(w.rows) * w.cols;
  dequantize_kernel<<<int((total + 255) / 256), 256, 0, stream>>>(w, out, ld_out);
  ENVFORGE_CUDA_CHECK_LAUNCH();
}

}  // namespace envforge::engine::gpu
