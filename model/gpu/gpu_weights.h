// The weights of a checkpoint in device memory, laid out for the GPU forward pass: matrices in
// bf16 (F32 and FP8 block-scaled weights are converted on load; FP8 GEMMs are not used), norm
// vectors and the router in f32, and the projections that read the same input concatenated
// so that each input feeds one GEMM.
#pragma once

#include <cuda_bf16.h>

#include <vector>

#include "model/config.h"
#include "model/gpu/device_array.h"
#include "model/weights.h"

namespace envforge::model::gpu {

using Bf16Array = DeviceArray<__nv_bfloat16>;
using F32Array = DeviceArray<float>;

struct GpuLayerWeights {
  F32Array input_norm, post_attn_norm, q_a_norm, kv_a_norm, idx_k_norm_w, idx_k_norm_b;
  // rows: q_a [q_lora] ++ kv_a [kvl + rope] ++ indexer wk [index_dim] ++ weights_proj [index_heads]
  Bf16Array w_a;
  int w_a_rows = 0;
  // rows: q_b [heads * qk_head_dim] ++ indexer wq_b [index_heads * index_dim]
  Bf16Array w_b;
  int w_b_rows = 0;
  Bf16Array kv_b;  // [heads * (nope + v)][kvl]
  Bf16Array o;     // [hidden][heads * v]
  bool moe = false;
  Bf16Array gate_up, down;  // dense MLP: [2 * inter][hidden], [hidden][inter]
  F32Array router, router_bias;
  Bf16Array experts_gate_up, experts_down;  // [E][2 * inter][hidden], [E][hidden][inter]
  bool has_shared = false;
  Bf16Array shared_gate_up, shared_down;
  int shared_inter = 0;
};

struct GpuWeights {
  bool embed_f32 = false;
  F32Array embed_f32_rows;
  Bf16Array embed_bf16_rows;
  Bf16Array lm_head;
  F32Array final_norm;
  std::vector<GpuLayerWeights> layers;
  size_t device_bytes = 0;

  static GpuWeights upload(const ModelWeights& w, const ModelConfig& cfg);
};

}  // namespace envforge::model::gpu
