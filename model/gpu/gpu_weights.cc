#include "model/gpu/gpu_weights.h"

#include <cstring>

#include "engine/cuda/fp8_gemm.h"
#include "engine/dtype.h"
#include "engine/thread_pool.h"

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
    std::vector<size_t> first(mats.size());
    for (size_t i = 1; i < mats.size(); ++i) first[i] = first[i - 1] + size_t(mats[i - 1]->rows) * cols;
    // One matrix per task: the 256 experts of a full-size layer decode on every core.
    engine::ThreadPool::global().parallel_for(int64_t(mats.size()), [&](int64_t i0, int64_t i1, int) {
      std::vector<float> tmp;
      for (int64_t i = i0; i < i1; ++i) {
        const engine::Matrix* m = mats[i];
        tmp.resize(size_t(m->rows) * cols);
        m->decode_rows(0, m->rows, tmp.data());
        size_t at = first[i];
        for (float v : tmp) {
          __nv_bfloat16_raw raw;
          raw.x = engine::f32_to_bf16(v);
          host[at++] = __nv_bfloat16(raw);
        }
      }
    });
    bytes += host.size() * 2;
    return Bf16Array(host);
  }
  Bf16Array mat(const engine::Matrix& m) { return stack({&m}); }

  // FP8 codes (zero-padded to k_pad columns) and 128x128 block scales of stacked FP8 matrices;
  // every matrix but the last has a multiple of 128 rows, so the blocks stay aligned.
  LinearSegment stack_fp8(const std::vector<const engine::Matrix*>& mats) {
    namespace eg = engine::gpu;
    LinearSegment seg;
    seg.fp8 = true;
    const int cols = mats.front()->cols, kp = eg::fp8_padded_k(cols);
    for (const engine::Matrix* m : mats) seg.rows += m->rows;
    std::vector<uint8_t> codes(size_t(seg.rows) * kp, 0);
    std::vector<float> scales;
    int r0 = 0;
    for (const engine::Matrix* m : mats) {
      for (int r = 0; r < m->rows; ++r)
        std::memcpy(&codes[size_t(r0 + r) * kp], m->data + size_t(r) * cols, cols);
      std::vector<float> block(size_t(m->scale_rows) * m->scale_cols);
      std::memcpy(block.data(), m->scales, block.size() * sizeof(float));
      const std::vector<float> bs = eg::fp8_block_scales(block.data(), m->rows, cols);
      scales.insert(scales.end(), bs.begin(), bs.end());
      r0 += m->rows;
    }
    bytes += codes.size() + scales.size() * 4;
    seg.codes = DeviceArray<uint8_t>(codes);
    seg.scales = F32Array(scales);
    return seg;
  }

  // Consecutive FP8 matrices (with 128-blocks, when fp8 is on) share one FP8 segment while the
  // segment's rows stay a multiple of 128; the rest are stacked in bf16.
  Linear linear(const std::vector<const engine::Matrix*>& mats, bool fp8) {
    Linear l;
    l.cols = mats.front()->cols;
    auto is_fp8 = [&](const engine::Matrix* m) {
      return fp8 && m->dtype == engine::DType::F8_E4M3 && m->scales && m->block == 128;
    };
    for (size_t i = 0; i < mats.size();) {
      size_t j = i + 1;
      int rows = mats[i]->rows;
      while (j < mats.size() && is_fp8(mats[j]) == is_fp8(mats[i]) &&
             (!is_fp8(mats[i]) || rows % engine::gpu::kFp8Block == 0))
        rows += mats[j++]->rows;
      const std::vector<const engine::Matrix*> run(mats.begin() + i, mats.begin() + j);
      LinearSegment seg;
      if (is_fp8(mats[i])) {
        seg = stack_fp8(run);
      } else {
        seg.bf16 = stack(run);
        for (const engine::Matrix* m : run) seg.rows += m->rows;
      }
      seg.row0 = l.rows;
      l.rows += seg.rows;
      l.segs.push_back(std::move(seg));
      i = j;
    }
    return l;
  }
  F32Array vec(const std::vector<float>& v) {
    bytes += v.size() * 4;
    return F32Array(v);
  }
};

}  // namespace

GpuWeights GpuWeights::upload(const ModelWeights& w, const ModelConfig& c, bool fp8) {
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
  g.lm_head = up.linear({&w.lm_head}, fp8);
  g.final_norm = up.vec(w.final_norm);
  for (const LayerWeights& L : w.layers) {
    GpuLayerWeights gl;
    gl.input_norm = up.vec(L.input_norm);
    gl.post_attn_norm = up.vec(L.post_attn_norm);
    gl.q_a_norm = up.vec(L.q_a_norm);
    gl.kv_a_norm = up.vec(L.kv_a_norm);
    gl.idx_k_norm_w = up.vec(L.idx_k_norm_w);
    gl.idx_k_norm_b = up.vec(L.idx_k_norm_b);
    gl.w_a = up.linear({&L.q_a, &L.kv_a, &L.idx_wk, &L.idx_weights}, fp8);
    gl.w_b = up.linear({&L.q_b, &L.idx_wq_b}, fp8);
    gl.kv_b = up.mat(L.kv_b);
    gl.o = up.linear({&L.o}, fp8);
    gl.moe = L.moe;
    if (!L.moe) {
      gl.gate_up = up.linear({&L.mlp.gate, &L.mlp.up}, fp8);
      gl.down = up.linear({&L.mlp.down}, fp8);
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
        gl.shared_gate_up = up.linear({&L.shared.gate, &L.shared.up}, fp8);
        gl.shared_down = up.linear({&L.shared.down}, fp8);
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
