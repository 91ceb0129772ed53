// The FP8 lightning indexer and top-k of one DeepSeek-V3.2 layer's decode step, per compiled
// indexer configuration (engine/cuda/indexer_tuning.h), against the floor: index-key bytes
// (128 codes + a 4-byte scale per key) over the device-to-device copy bandwidth measured in the
// same run. Checks that every variant writes the scores of variant 0 (largest difference
// relative to the row's largest magnitude; the kernels sum in different orders).
//
//   indexer_bench [B:L ...]   (default 16:131072 1:131072 16:32768)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/gpu_bench_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "engine/cuda/indexer_tuning.h"

namespace gpu = envforge::engine::gpu;

namespace {

using envforge::bench::time_ms;

constexpr int kPage = 64, kTopK = 2048;

__global__ void fill_random(uint8_t* p, size_t n, uint32_t seed, bool e4m3) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    const uint32_t x = envforge::bench::mixed_bits(i, seed);
    p[i] = e4m3 ? envforge::bench::finite_e4m3(x) : uint8_t(x);
  }
}
__global__ void fill_scale(float* p, size_t n, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    p[i] = lo + (hi - lo) * float((i * 2654435761u) % 1000) / 1000.f;
}

template <class T>
T* dev(size_t n) {
  T* p = nullptr;
  ENVFORGE_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)));
  return p;
}

double copy_gbps() {
  const size_t n = size_t(1) << 30;
  uint8_t* src = dev<uint8_t>(n);
  uint8_t* dst = dev<uint8_t>(n);
  fill_random<<<1024, 256>>>(src, n, 1, false);
  const double ms = time_ms([&](int) { cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice); },
                            3, 5);
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * n / (ms * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<int, int>> sizes;
  for (int i = 1; i < argc; ++i) {
    int b = 0, l = 0;
    if (std::sscanf(argv[i], "%d:%d", &b, &l) != 2 || b <= 0 || l <= 0) {
      std::fprintf(stderr, "usage: %s [B:L ...]\n", argv[0]);
      return 2;
    }
    sizes.push_back({b, l});
  }
  if (sizes.empty()) sizes = {{16, 131072}, {1, 131072}, {16, 32768}};
  cudaDeviceProp prop{};
  ENVFORGE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const double bw = copy_gbps();
  std::printf("device %s, copy bandwidth %.0f GB/s (read+write)\n", prop.name, bw);

  struct Row {
    int B, L, variant;
    double ms, floor_ms, topk_ms;
    double diff;
  };
  std::vector<Row> rows;
  for (const auto& size : sizes) {
    const int B = size.first, L = size.second;
    const int pages = (L + kPage - 1) / kPage;
    const size_t keys = size_t(B) * pages * kPage;
    // two copies of the caches, used alternately, so a call never finds its keys in L2
    const int copies = 2;
    uint8_t* kp = dev<uint8_t>(keys * copies * gpu::kIndexDim);
    float* ks = dev<float>(keys * copies);
    uint8_t* q = dev<uint8_t>(size_t(B) * gpu::kIndexHeads * gpu::kIndexDim);
    float* qs = dev<float>(size_t(B) * gpu::kIndexHeads);
    float* w = dev<float>(size_t(B) * gpu::kIndexHeads);
    int32_t* table = dev<int32_t>(size_t(copies) * B * pages);
    int32_t* seq = dev<int32_t>(B);
    int32_t* pos = dev<int32_t>(B);
    float* scores = dev<float>(size_t(B) * L);
    float* ref = dev<float>(size_t(B) * L);
    int32_t* topk = dev<int32_t>(size_t(B) * kTopK);
    fill_random<<<1024, 256>>>(kp, keys * copies * gpu::kIndexDim, 7, true);
    fill_scale<<<1024, 256>>>(ks, keys * copies, 0.5f / 448, 2.f / 448);
    fill_random<<<64, 256>>>(q, size_t(B) * gpu::kIndexHeads * gpu::kIndexDim, 9, true);
    fill_scale<<<64, 256>>>(qs, size_t(B) * gpu::kIndexHeads, 0.5f / 448, 2.f / 448);
    fill_scale<<<64, 256>>>(w, size_t(B) * gpu::kIndexHeads, -0.2f, 0.2f);
    ENVFORGE_CUDA_CHECK_LAUNCH();
    {  // pages of the sequences interleaved, as a shared pool hands them out
      std::vector<int32_t> t(size_t(copies) * B * pages), s(B), p(B, L - 1);
      for (int c = 0; c < copies; ++c)
        for (int b = 0; b < B; ++b)
          for (int g = 0; g < pages; ++g)
            t[(size_t(c) * B + b) * pages + g] = (c * pages + g) * B + b;
      for (int b = 0; b < B; ++b) s[b] = b;
      ENVFORGE_CUDA_CHECK(cudaMemcpy(table, t.data(), t.size() * 4, cudaMemcpyHostToDevice));
      ENVFORGE_CUDA_CHECK(cudaMemcpy(seq, s.data(), B * 4, cudaMemcpyHostToDevice));
      ENVFORGE_CUDA_CHECK(cudaMemcpy(pos, p.data(), B * 4, cudaMemcpyHostToDevice));
    }
    auto args = [&](int copy, float* out) {
      gpu::IndexerArgs a;
      a.q = q, a.q_scale = qs, a.weights = w, a.key_pages = kp, a.key_scale = ks;
      a.table = {table + size_t(copy % copies) * B * pages, pages, kPage};
      a.q_seq = seq, a.q_pos = pos, a.T = B, a.S = L, a.out = out;
      return a;
    };
    gpu::indexer_scores_variant(args(0, ref), 0, nullptr);
    const double floor_ms = double(B) * L * (gpu::kIndexDim + 4) / (bw * 1e6);
    const double topk_ms =
        time_ms([&](int) { gpu::topk_indices(ref, pos, B, L, kTopK, topk, nullptr); });
    std::vector<float> h_ref(size_t(B) * L), h_got(size_t(B) * L);
    ENVFORGE_CUDA_CHECK(cudaMemcpy(h_ref.data(), ref, h_ref.size() * 4, cudaMemcpyDeviceToHost));
    for (int v = 0; v < gpu::kIndexerVariants; ++v) {
      ENVFORGE_CUDA_CHECK(cudaMemset(scores, 0xFF, size_t(B) * L * 4));
      gpu::indexer_scores_variant(args(0, scores), v, nullptr);
      ENVFORGE_CUDA_CHECK(
          cudaMemcpy(h_got.data(), scores, h_got.size() * 4, cudaMemcpyDeviceToHost));
      double diff = 0, mag = 0;
      for (size_t i = 0; i < h_got.size(); ++i) {
        if (std::isinf(h_ref[i]) || std::isinf(h_got[i])) {
          if (h_ref[i] != h_got[i]) diff = INFINITY;
          continue;
        }
        diff = std::max(diff, double(std::fabs(h_got[i] - h_ref[i])));
        mag = std::max(mag, double(std::fabs(h_ref[i])));
      }
      const double rel = diff / std::max(mag, 1e-30);
      const double ms =
          time_ms([&](int r) { gpu::indexer_scores_variant(args(r, scores), v, nullptr); });
      rows.push_back({B, L, v, ms, floor_ms, topk_ms, rel});
    }
    for (void* p : {(void*)kp, (void*)ks, (void*)q, (void*)qs, (void*)w, (void*)table, (void*)seq,
                    (void*)pos, (void*)scores, (void*)ref, (void*)topk})
      cudaFree(p);
  }
  std::printf("\n%-4s %-7s %-7s %-10s %-9s %-9s %-9s %-10s %s\n", "B", "L", "variant",
              "indexer ms", "floor ms", "x floor", "GB/s", "top-k ms", "max diff vs 0");
  for (const Row& r : rows)
    std::printf("%-4d %-7d %-7d %-10.4f %-9.4f %-9.2f %-9.0f %-10.4f %.1e\n", r.B, r.L, r.variant,
                r.ms, r.floor_ms, r.ms / r.floor_ms,
                double(r.B) * r.L * (gpu::kIndexDim + 4) / (r.ms * 1e6), r.topk_ms,
                r.diff);
  return 0;
}
