// What the GPU benchmarks share: device buffers, random inputs filled on the device, timing by
// CUDA events around back-to-back calls or graph replays, and the copy bandwidth floors are
// measured against.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/cuda/cuda_check.h"

namespace envforge::bench {

// A well-mixed 32-bit value for element i of a fill with `seed` (same inputs every run).
__device__ inline uint32_t mixed_bits(size_t i, uint32_t seed) {
  uint32_t x = uint32_t(i) * 0x9E3779B1u ^ seed;
  x ^= x >> 15;
  x *= 0x2C1B3C6Du;
  x ^= x >> 12;
  return x;
}

// An FP8 E4M3 code from random bits: finite values of both signs (exponent field below 15).
__device__ inline uint8_t finite_e4m3(uint32_t x) { return uint8_t((x & 0x80) | ((x >> 8) % 0x70)); }

// Random bf16 values in [-1, 1) for element i of a fill with `seed`.
__global__ void fill_bf16_unit(__nv_bfloat16* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = __float2bfloat16((mixed_bits(i, seed) & 0xFFFF) / 32768.f - 1.f);
}

// Median of `samples` timings (ms per call) of `reps` back-to-back calls f(0..reps-1), after
// three warm-up calls.
template <class F>
double time_ms(F&& f, int reps = 10, int samples = 7) {
  cudaEvent_t a, b;
  ENVFORGE_CUDA_CHECK(cudaEventCreate(&a));
  ENVFORGE_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f(i);
  std::vector<float> t;
  for (int s = 0; s < samples; ++s) {
    ENVFORGE_CUDA_CHECK(cudaEventRecord(a));
    for (int r = 0; r < reps; ++r) f(r);
    ENVFORGE_CUDA_CHECK(cudaEventRecord(b));
    ENVFORGE_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    ENVFORGE_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms / reps);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

template <class T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t count) : n(count) {
    ENVFORGE_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T)));
  }
  ~Buf() { cudaFree(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  size_t bytes() const { return n * sizeof(T); }
};

// Median time in ms of one call of `step`, from CUDA-graph replays of `reps` calls.
inline double time_graph(cudaStream_t st, int reps, int samples, const std::function<void(int)>& step) {
  for (int r = 0; r < reps; ++r) step(r);  // warm-up outside capture (lazy attributes, caches)
  ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(st));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  ENVFORGE_CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  for (int r = 0; r < reps; ++r) step(r);
  ENVFORGE_CUDA_CHECK(cudaStreamEndCapture(st, &graph));
  ENVFORGE_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t a, b;
  ENVFORGE_CUDA_CHECK(cudaEventCreate(&a));
  ENVFORGE_CUDA_CHECK(cudaEventCreate(&b));
  ENVFORGE_CUDA_CHECK(cudaGraphLaunch(exec, st));
  std::vector<double> ms;
  for (int s = 0; s < samples; ++s) {
    ENVFORGE_CUDA_CHECK(cudaEventRecord(a, st));
    ENVFORGE_CUDA_CHECK(cudaGraphLaunch(exec, st));
    ENVFORGE_CUDA_CHECK(cudaEventRecord(b, st));
    ENVFORGE_CUDA_CHECK(cudaEventSynchronize(b));
    float f = 0;
    ENVFORGE_CUDA_CHECK(cudaEventElapsedTime(&f, a, b));
    ms.push_back(f / reps);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

__global__ void copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

// Device-to-device copy bandwidth, bytes read plus bytes written: the better of the copy
// engine path (cudaMemcpyAsync) and a plain 16-byte-per-thread copy kernel.
inline double copy_bandwidth(cudaStream_t st, int sms) {
  const size_t n = size_t(1) << 30;
  Buf<uint8_t> src(n), dst(n);
  ENVFORGE_CUDA_CHECK(cudaMemset(src.p, 1, n));
  const double ms_memcpy = time_graph(st, 4, 15, [&](int) {
    ENVFORGE_CUDA_CHECK(cudaMemcpyAsync(dst.p, src.p, n, cudaMemcpyDeviceToDevice, st));
  });
  const double ms_kernel = time_graph(st, 4, 15, [&](int) {
    copy_kernel<<<sms * 8, 512, 0, st>>>(reinterpret_cast<const uint4*>(src.p),
                                         reinterpret_cast<uint4*>(dst.p), n / 16);
    ENVFORGE_CUDA_CHECK_LAUNCH();
  });
  return 2.0 * n / (std::min(ms_memcpy, ms_kernel) * 1e-3);
}

}  // namespace envforge::bench
