// Compiled variants of the FP8 indexer, selectable for measurement: variant 0 is what
// indexer_scores uses. On Hopper: 0 = warpgroup-MMA kernel with 4 key-tile stages (five blocks
// per SM), its key tiles by tensor copy, 1 = the same with the tiles by cp.async from every
// thread, 2 = 1 with an L2 256-byte prefetch hint on the key copies, 3 = the warp-level
// mma.sync kernel (what other devices and bf16 keys run). Unknown variants run 0.
#pragma once

#include "engine/cuda/dsa_kernels.h"

namespace envforge::engine::gpu {

constexpr int kIndexerVariants = 4;
void indexer_scores_variant(const IndexerArgs& args, int variant, cudaStream_t stream);

}  // namespace envforge::engine::gpu
