// FP8 (cuBLASLt, block-scaled E4M3 weights, activations quantized per token in 128-column
// groups) against bf16 (cuBLAS) linear layers at DeepSeek-V3.2's projection shapes, for decode
// (few tokens: weight-bandwidth bound) and prefill (many tokens: matrix-unit bound) sizes.
// The FP8 time includes the activation quantization; "gemm only" leaves it out.
//
//   fp8_gemm_bench
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <vector>

#include "bench/gpu_bench_util.cuh"
#include "engine/cuda/cublas_api.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_gemm.h"
#include "engine/cuda/gemm.h"

namespace gpu = envforge::engine::gpu;

namespace {

using envforge::bench::time_ms;

__global__ void fill(uint8_t* p, size_t n, uint32_t seed, int kind) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    const uint32_t x = envforge::bench::mixed_bits(i, seed);
    if (kind == 0) {  // e4m3 codes, finite, both signs
      p[i] = envforge::bench::finite_e4m3(x);
    } else if (kind == 1) {  // bf16 in [-1, 1)
      reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16((x & 0xFFFF) / 32768.f - 1.f);
    } else {  // f32 scales in [0.5, 1.5) / 448
      reinterpret_cast<float*>(p)[i] = (0.5f + (x & 0xFFFF) / 65536.f) / 448.f;
    }
  }
}

struct Shape {
  const char* name;
  int m, k;
};

}  // namespace

int main() {
  const Shape shapes[] = {
      {"q_a+kv_a+idx_wk", 1536 + 576 + 128, 7168},
      {"q_b+idx_wq_b", 128 * 192 + 64 * 128, 1536},
      {"o_proj", 7168, 128 * 128},
      {"shared gate_up", 2 * 2048, 7168},
      {"shared down", 7168, 2048},
  };
  const int tokens[] = {16, 128, 4096};
  const int max_n = 4096, max_k = 16384, max_m = 32768;
  cudaStream_t st = nullptr;
  gpu::Blas blas(st);
  gpu::Fp8Gemm fp8(st, max_n, max_k);
  // weights big enough for the largest shape; several copies so decode sizes stream from DRAM
  const size_t wbytes = size_t(max_m) * max_k;
  uint8_t *w8, *wbf, *x, *y, *ws;
  ENVFORGE_CUDA_CHECK(cudaMalloc(&w8, wbytes));
  ENVFORGE_CUDA_CHECK(cudaMalloc(&wbf, wbytes * 2));
  ENVFORGE_CUDA_CHECK(cudaMalloc(&ws, size_t(max_k / 128) * max_m * 4));
  ENVFORGE_CUDA_CHECK(cudaMalloc(&x, size_t(max_n) * max_k * 2));
  ENVFORGE_CUDA_CHECK(cudaMalloc(&y, size_t(max_n) * max_m * 4));
  fill<<<2048, 256>>>(w8, wbytes, 1, 0);
  fill<<<2048, 256>>>(wbf, wbytes, 2, 1);
  fill<<<2048, 256>>>(ws, size_t(max_k / 128) * max_m, 3, 2);
  fill<<<2048, 256>>>(x, size_t(max_n) * max_k, 4, 1);
  ENVFORGE_CUDA_CHECK_LAUNCH();
  cudaDeviceProp prop{};
  ENVFORGE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("cuBLASLt %zu\n", envforge::engine::gpu::cublas_api().cublasLtGetVersion());
  std::printf("device %s\n\n%-16s %-6s %-6s %-6s %-9s %-9s %-9s %-8s %-9s %-9s %-8s %s\n", prop.name,
              "shape", "m", "k", "n", "bf16 ms", "fp8 ms", "gemm ms", "speedup", "bf16 TF/s",
              "fp8 TF/s", "w GB/s", "cuBLASLt path");
  for (const Shape& s : shapes)
    for (int n : tokens) try {
      const auto* xb = reinterpret_cast<const __nv_bfloat16*>(x);
      const gpu::Fp8Matrix w{w8, reinterpret_cast<const float*>(ws), s.m, s.k, s.k};
      const double t_bf = time_ms([&](int) {
        blas.linear(xb, s.k, reinterpret_cast<const __nv_bfloat16*>(wbf), n, s.m, s.k, y,
                    gpu::OutType::kF32, s.m);
      });
      const double t_fp8 =
          time_ms([&](int) { fp8.linear(xb, s.k, n, w, y, gpu::OutType::kF32, s.m); });
      const double t_gemm = time_ms([&](int) {
        fp8.linear_quantized(fp8.act_codes(), fp8.act_scales(), n, w, y, gpu::OutType::kF32,
                             s.m);
      });
      const double flop = 2.0 * s.m * s.k * n;
      std::printf("%-16s %-6d %-6d %-6d %-9.4f %-9.4f %-9.4f %-8.2f %-9.0f %-9.0f %-8.0f %s\n",
                  s.name, s.m, s.k, n, t_bf, t_fp8, t_gemm, t_bf / t_fp8, flop / (t_bf * 1e9),
                  flop / (t_fp8 * 1e9), double(s.m) * s.k / (t_fp8 * 1e6),
                  fp8.describe(s.m, n, s.k, gpu::OutType::kF32, s.m).c_str());
    } catch (const std::exception& e) {
      std::printf("%-16s %-6d %-6d %-6d failed: %s; %s\n", s.name, s.m, s.k, n, e.what(),
                  fp8.describe(s.m, n, s.k, gpu::OutType::kF32, s.m).c_str());
      cudaGetLastError();
    }
  ENVFORGE_CUDA_CHECK(cudaDeviceSynchronize());
  for (void* p : {(void*)w8, (void*)wbf, (void*)ws, (void*)x, (void*)y}) cudaFree(p);
  return 0;
}
