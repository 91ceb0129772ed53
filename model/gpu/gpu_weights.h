// The weights of a checkpoint in device memory, laid out for the GPU forward pass: matrices in
// bf16 (F32 weights, and FP8 ones where FP8 GEMMs are off or not used, are converted on load),
// FP8-stored linear layers kept as E4M3 codes with per-row block scales for the FP8 GEMM
// (engine/cuda/fp8_gemm.h), norm vectors and the router in f32, and the projections that read
// the same input concatenated so that each input feeds one product.
#pragma once

#include <cuda_bf16.h>

#include <vector>

#include "model/config.h"
#include "model/gpu/device_array.h"
#include "model/weights.h"

namespace envforge::model::gpu {

using Bf16Array = DeviceArray<__nv_bfloat16>;
using F32Array = DeviceArray<float>;

// A run of consecutive output rows of a linear layer, stored in bf16 or in FP8.
struct LinearSegment {
  int row0 = 0, rows = 0;
  bool fp8 = false;
  Bf16Array bf16;                // [rows][cols]
  DeviceArray<uint8_t> codes;    // FP8: [rows][k_pad]
  F32Array scales;               // FP8: [ceil(rows / 128)][k_pad / 128]
};
// y = x W^T for W = the row-wise concatenation of one or more checkpoint matrices.
struct Linear {
  int rows = 0, cols = 0;
  std::vector<LinearSegment> segs;
  bool any_fp8() const {
    for (const auto& s : segs)
      if (s.fp8) return true;
    return false;
  }
};

struct GpuLayerWeights {
  F32Array input_norm, post_attn_norm, q_a_norm, kv_a_norm, idx_k_norm_w, idx_k_norm_b;
  // rows: q_a [q_lora] ++ kv_a [kvl + rope] ++ indexer wk [index_dim] ++ weights_proj [index_heads]
  Linear w_a;
  // rows: q_b [heads * qk_head_dim] ++ indexer wq_b [index_heads * index_dim]
  Linear w_b;
  Bf16Array kv_b;  // [heads * (nope + v)][kvl] (batched products: always bf16)
  Linear o;        // [hidden][heads * v]
  bool moe = false;
  Linear gate_up, down;  // dense MLP: [2 * inter][hidden], [hidden][inter]
  F32Array router, router_bias;
  Bf16Array experts_gate_up, experts_down;  // [E][2 * inter][hidden], [E][hidden][inter]
  bool has_shared = false;
  Linear shared_gate_up, shared_down;
  int shared_inter = 0;
};

struct GpuWeights {
  bool embed_f32 = false;
  F32Array embed_f32_rows;
  Bf16Array embed_bf16_rows;
  Linear lm_head;
  F32Array final_norm;
  std::vector<GpuLayerWeights> layers;
  size_t device_bytes = 0;

  // fp8: FP8-stored linear layers stay FP8 (else every matrix is converted to bf16).
  static GpuWeights upload(const ModelWeights& w, const ModelConfig& cfg, bool fp8);
};

}  // namespace envforge::model::gpu
