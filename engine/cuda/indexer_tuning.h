// Compiled variants of the FP8 indexer, selectable for measurement: variant 0 is what
// indexer_scores uses. On Hopper: 0 = warpgroup-MMA kernel with 4 key-tile stages (five blocks
// per SM), 1 = the same with an L2 256-byte prefetch hint on the key copies, 2 = the
// warp-level mma.sync kernel (what other devices and bf16 keys run). Unknown variants run 0.
#pragma once

#include "engine/cuda/dsa_kernels.h"

namespace envforge::engine::gpu {

constexpr int kIndexerVariants = 3;
void indexer_scores_variant(const IndexerArgs& args, int variant, cudaStream_t stream);

}  // namespace envforge::engine::gpu
