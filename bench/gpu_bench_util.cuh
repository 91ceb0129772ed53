// What the GPU benchmarks share: random inputs filled on the device, and timing by CUDA events
// around back-to-back calls.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

}  // namespace envforge::bench
