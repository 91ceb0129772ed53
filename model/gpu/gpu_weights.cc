#include "model/gpu/gpu_weights.h"

#include "engine/dtype.h"

namespace envforge::model::gpu {

namespace {

struct Uploader {
  size_t bytes = 0;
  // Stacks the rows of several matrices (same column count) into one bf16 device matrix.
  Bf16Array stack(const std::vector<const engine::Matrix*>& mats) {
    size_t rows = 0;
    const int cols = mats.front()->cols;
    for (const engine::Matrix* m : mats) rows += m->rows;
    std::vector<__nv_bfloat16> host(rows * cols);
    std::vector<float> tmp;
    size_t at = 0;
    for (const engine::Matrix* m : mats) {
      tmp.resize(size_t(m->rows) * cols);
      m->decode_rows(0, m->rows, tmp.data());
      for (float v : tmp) {
        __nv_bfloat16_raw raw;
        raw.x = engine::f32_to_bf16(v);
        host[at++] = __nv_bfloat16(raw);
      }
    }
    bytes += host.size() * 2;
    return Bf16Array(host);
  }
  Bf16Array mat(const engine::Matrix& m) { return stack({&m}); }
  F32Array vec(const std::vector<float>& v) {
    bytes += v.size() * 4;
    return F32Array(v);
  }
};

}  // namespace

GpuWeights GpuWeights::upload(const ModelWeights& w, const ModelConfig& c) {
  Uploader up;
  GpuWeights g;
  g.embed_f32 = w.embed.dtype == engine::DType::F32;
  if (g.embed_f32) {
    std::vector<float> rows(size_t(w.embed.rows) * w.embed.cols);
    w.embed.decode_rows(0, w.embed.rows, rows.data());
    g.embed_f32_rows = up.vec(rows);
  } else {
    g.embed_bf16_rows = up.mat(w.embed);  // exact for bf16 checkpoints
  }
  g.lm_head = up.mat(w.lm_head);
  g.final_norm = up.vec(w.final_norm);
  for (const LayerWeights& L : w.layers) {
    GpuLayerWeights gl;
    gl.input_norm = up.vec(L.input_norm);
    gl.post_attn_norm = up.vec(L.post_attn_norm);
    gl.q_a_norm = up.vec(L.q_a_norm);
    gl.kv_a_norm = up.vec(L.kv_a_norm);
    gl.idx_k_norm_w = up.vec(L.idx_k_norm_w);
    gl.idx_k_norm_b = up.vec(L.idx_k_norm_b);
    gl.w_a = up.stack({&L.q_a, &L.kv_a, &L.idx_wk, &L.idx_weights});
    gl.w_a_rows = L.q_a.rows + L.kv_a.rows + L.idx_wk.rows + L.idx_weights.rows;
    gl.w_b = up.stack({&L.q_b, &L.idx_wq_b});
    gl.w_b_rows = L.q_b.rows + L.idx_wq_b.rows;
    gl.kv_b = up.mat(L.kv_b);
    gl.o = up.mat(L.o);
    gl.moe = L.moe;
    if (!L.moe) {
      gl.gate_up = up.stack({&L.mlp.gate, &L.mlp.up});
      gl.down = up.mat(L.mlp.down);
    } else {
      gl.router = up.vec(L.gate_w);
      gl.router_bias = up.vec(L.gate_bias);
      std::vector<const engine::Matrix*> gu, dn;
      for (const MlpWeights& e : L.experts) {
        gu.push_back(&e.gate);
        gu.push_back(&e.up);
        dn.push_back(&e.down);
      }
      gl.experts_gate_up = up.stack(gu);
      gl.experts_down = up.stack(dn);
      gl.has_shared = L.has_shared;
      if (L.has_shared) {
        gl.shared_gate_up = up.stack({&L.shared.gate, &L.shared.up});
        gl.shared_down = up.mat(L.shared.down);
        gl.shared_inter = L.shared.gate.rows;
      }
    }
    g.layers.push_back(std::move(gl));
  }
  (void)c;
  g.device_bytes = up.bytes;
  return g;
}

}  // namespace envforge::model::gpu
