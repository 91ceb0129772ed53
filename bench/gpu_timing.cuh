// Timing of GPU work for the benchmarks: CUDA events around back-to-back calls.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "engine/cuda/cuda_check.h"

namespace envforge::bench {

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
