// How the MLA attention kernels split a query's rows over several blocks: the plan, the
// partial outputs in the caller's workspace and the merge pass that the portable kernel
// (mla_attention.cu) and the ring kernel (mla_wgmma.cu) share, and the entry of the dense
// Hopper kernel (mla_dense_wgmma.cu), which cuts all queries' rows over the device itself.
// Host code only.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>

#include "engine/cuda/dsa_kernels.h"

namespace envforge::engine::gpu::mla {

struct SplitPlan {
  int splits = 1;
  int rows_per_split = 0;  // a multiple of the kernel's tile
};

// Enough splits per (query, 64-head group) to fill the device, each at least min_split_tiles
// tiles long: shorter ones cost more in the query load and the fp32 partial outputs than they
// win in parallelism.
inline SplitPlan make_split_plan(int T, int Hq, int max_rows, int tile_rows, int min_split_tiles) {
  const int tiles = std::max(1, (max_rows + tile_rows - 1) / tile_rows);
  const long pairs = long(T) * (Hq / kMlaHeadsPerBlock);
  int splits = int(std::max<long>(1, device_sm_count() / std::max<long>(1, pairs)));
  splits = std::min(splits, std::max(1, tiles / min_split_tiles));
  const int tiles_per_split = (tiles + splits - 1) / splits;
  SplitPlan plan;
  plan.rows_per_split = tiles_per_split * tile_rows;
  plan.splits = (tiles + tiles_per_split - 1) / tiles_per_split;
  return plan;
}

// With splits > 1 each block writes its normalized partial output [T][splits][Hq][512] and its
// base-2 log-sum-exp [T][splits][Hq] into the workspace; with one split both are null.
struct SplitBuffers {
  float* o_part = nullptr;
  float* lse_part = nullptr;
};
inline SplitBuffers split_buffers(void* workspace, int T, int Hq, const SplitPlan& plan) {
  SplitBuffers b;
  if (plan.splits == 1 || workspace == nullptr) return b;
  b.o_part = static_cast<float*>(workspace);
  b.lse_part = b.o_part + size_t(T) * plan.splits * Hq * kVDim;
  return b;
}
inline size_t split_workspace_bytes(int T, int Hq, int splits) {
  return splits == 1 ? 0 : size_t(T) * splits * Hq * (kVDim + 1) * sizeof(float);
}

// The merge pass (mla_attention.cu): out = sum_s w_s O_s / sum_s w_s, w_s = 2^(lse_s - max).
void launch_combine(int T, int Hq, const SplitPlan& plan, const SplitBuffers& bufs,
                    __nv_bfloat16* out, cudaStream_t stream);

// Compute capability 9.0 (mla_wgmma.cu): the warpgroup MMA kernel, dense and sparse rows.
bool wgmma_kernel_supported();
SplitPlan wgmma_plan(int T, int Hq, int max_rows);
void launch_wgmma(const MlaArgs& p, const SplitPlan& plan, const SplitBuffers& bufs,
                  cudaStream_t stream);

// Compute capability 9.0, dense rows (mla_dense_wgmma.cu): 64-row tiles by tensor copy, the
// pairs of tiles of all queries cut evenly over the device's multiprocessors, then its own
// merge pass; its workspace holds the partial outputs and each query's first pair.
size_t dense_workspace_bytes(int T, int Hq);
void launch_dense(const MlaArgs& p, cudaStream_t stream);

}  // namespace envforge::engine::gpu::mla
