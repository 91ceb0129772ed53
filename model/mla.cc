// Multi-head latent attention with the lightning indexer (DeepSeek Sparse Attention).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "engine/matrix.h"
#include "engine/simd.h"
#include "model/ops.h"
#include "model/transformer.h"

namespace envforge::model {

using engine::axpy;
using engine::dot;
using engine::matmul;

namespace {

struct TokenScratch {
  std::vector<float> scores, key, probs;
  std::vector<int32_t> order, rows;
};

// Indexer scores of rows [0, visible) for one query: sum_h w[h] * relu(q[h] . key[s]).
void index_scores(const KvCache& cache, int li, const float* iq, const float* iw, int IH, int ID,
                  int64_t s0, int64_t s1, float* scores, std::vector<float>& key) {
  key.resize(ID);
  for (int64_t s = s0; s < s1; ++s) {
    const int r = static_cast<int>(s);
    fp8_dequantize(cache.index_key_row(li, r), cache.index_scale_row(li, r), ID, key.data());
    float total = 0.f;
    for (int h = 0; h < IH; ++h) total += iw[h] * std::max(dot(iq + h * ID, key.data(), ID), 0.f);
    scores[s] = total;
  }
}

// The k highest scores of [0, visible), ties to the lower row, returned in ascending row order.
void select_topk(const float* scores, int visible, int k, std::vector<int32_t>& order,
                 std::vector<int32_t>& rows) {
  order.resize(visible);
  for (int i = 0; i < visible; ++i) order[i] = i;
  auto better = [scores](int32_t a, int32_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
  };
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), better);
  rows.assign(order.begin(), order.begin() + k);
  std::sort(rows.begin(), rows.end());
}

// Softmax attention of one absorbed query head over the chosen rows (all of [0, visible) when
// rows is null); out [kvl] = sum p * latent.
void attend_head(const float* q, const KvCache& cache, int li, int width, int kvl, float scale,
                 const std::vector<int32_t>* rows, int visible, std::vector<float>& probs,
                 float* out) {
  const int n = rows ? static_cast<int>(rows->size()) : visible;
  probs.resize(n);
  float mx = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < n; ++j) {
    const int r = rows ? (*rows)[j] : j;
    probs[j] = dot(q, cache.kv_row(li, r), width) * scale;
    mx = std::max(mx, probs[j]);
  }
  float denom = 0.f;
  for (int j = 0; j < n; ++j) denom += (probs[j] = std::exp(probs[j] - mx));
  std::fill(out, out + kvl, 0.f);
  const float inv = 1.f / denom;
  for (int j = 0; j < n; ++j) {
    const int r = rows ? (*rows)[j] : j;
    axpy(probs[j] * inv, cache.kv_row(li, r), out, kvl);
  }
}

}  // namespace

void Model::attention(int li, std::span<const BatchItem> batch, const std::vector<int>& item_of,
                      const std::vector<int>& pos_of, const float* xn, float* out,
                      const ForwardOptions& opt) {
  const ModelConfig& c = cfg_;
  const LayerWeights& L = w_.layers[li];
  engine::ThreadPool& pool = *pool_;
  const int N = static_cast<int>(item_of.size());
  const int H = c.num_attention_heads, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim;
  const int qkd = c.qk_head_dim(), kvl = c.kv_lora_rank, vd = c.v_head_dim, width = kvl + rope;
  const int IH = c.index_n_heads, ID = c.index_head_dim, blocks = ID / fp8_block(ID);
  const float scale = static_cast<float>(c.softmax_scale());
  const size_t n_ = static_cast<size_t>(N);

  // Low-rank query and compressed KV.
  std::vector<float> qr(n_ * c.q_lora_rank), q(n_ * H * qkd), kv(n_ * width);
  matmul(L.q_a, xn, N, qr.data(), pool);
  rms_norm(qr.data(), L.q_a_norm.data(), N, c.q_lora_rank, c.rms_norm_eps, qr.data());
  matmul(L.q_b, qr.data(), N, q.data(), pool);
  matmul(L.kv_a, xn, N, kv.data(), pool);
  // Indexer projections.
  std::vector<float> iq(n_ * IH * ID), ik(n_ * ID), iw(n_ * IH);
  matmul(L.idx_wq_b, qr.data(), N, iq.data(), pool);
  matmul(L.idx_wk, xn, N, ik.data(), pool);
  matmul(L.idx_weights, xn, N, iw.data(), pool);
  layer_norm(ik.data(), L.idx_k_norm_w.data(), L.idx_k_norm_b.data(), N, ID, 1e-6);
  const float w_scale_h = static_cast<float>(1.0 / std::sqrt(static_cast<double>(IH)));
  const float w_scale_d = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ID)));

  pool.parallel_for(N, [&](int64_t n0, int64_t n1, int) {
    std::vector<uint8_t> codes(ID);
    std::vector<float> sc(blocks);
    for (int64_t n = n0; n < n1; ++n) {
      const int pos = pos_of[n];
      KvCache& cache = *batch[item_of[n]].cache;
      float* kvn = kv.data() + n * width;
      rms_norm(kvn, L.kv_a_norm.data(), 1, kvl, c.rms_norm_eps, kvn);
      rope_interleaved(kvn + kvl, rope, pos, inv_freq_);
      std::memcpy(cache.kv_row(li, pos), kvn, width * sizeof(float));
      for (int h = 0; h < H; ++h) rope_interleaved(q.data() + (n * H + h) * qkd + nope, rope, pos, inv_freq_);
      // Index key: rope on the first dims (half layout), Hadamard, FP8 into the cache.
      float* k = ik.data() + n * ID;
      rope_half(k, rope, pos, inv_freq_);
      hadamard(k, ID);
      fp8_quantize(k, ID, cache.index_key_row(li, pos), cache.index_scale_row(li, pos));
      // Index query: same treatment, quantize-dequantize (the scale folds into the weights).
      for (int h = 0; h < IH; ++h) {
        float* qh = iq.data() + (n * IH + h) * ID;
        rope_half(qh, rope, pos, inv_freq_);
        hadamard(qh, ID);
        fp8_quantize(qh, ID, codes.data(), sc.data());
        fp8_dequantize(codes.data(), sc.data(), ID, qh);
      }
      for (int h = 0; h < IH; ++h) iw[n * IH + h] = iw[n * IH + h] * w_scale_h * w_scale_d;
    }
  });

  // Absorbed queries: q_nope through the key part of kv_b into the latent, then the rope part.
  std::vector<float> qabs(n_ * H * width);
  pool.parallel_for(H, [&](int64_t h0, int64_t h1, int) {
    std::vector<float> wk(static_cast<size_t>(nope) * kvl);
    for (int64_t h = h0; h < h1; ++h) {
      L.kv_b.decode_rows(static_cast<int>(h) * (nope + vd), nope, wk.data());
      for (int n = 0; n < N; ++n) {
        float* dst = qabs.data() + (static_cast<size_t>(n) * H + h) * width;
        const float* qn = q.data() + (static_cast<size_t>(n) * H + h) * qkd;
        std::fill(dst, dst + kvl, 0.f);
        for (int d = 0; d < nope; ++d) axpy(qn[d], wk.data() + static_cast<size_t>(d) * kvl, dst, kvl);
        std::memcpy(dst + kvl, qn + nope, rope * sizeof(float));
      }
    }
  });

  // Attention of each token over its visible rows, sparse past index_topk.
  std::vector<float> olat(n_ * H * kvl);
  std::mutex trace_mu;
  auto token_rows = [&](int n, TokenScratch& s, bool inner_parallel) -> const std::vector<int32_t>* {
    const int visible = pos_of[n] + 1;
    if (opt.force_dense || visible <= c.index_topk) return nullptr;
    const KvCache& cache = *batch[item_of[n]].cache;
    s.scores.resize(visible);
    const float* iqn = iq.data() + static_cast<size_t>(n) * IH * ID;
    const float* iwn = iw.data() + static_cast<size_t>(n) * IH;
    if (inner_parallel) {
      pool.parallel_for(visible, [&](int64_t s0, int64_t s1, int) {
        std::vector<float> key;
        index_scores(cache, li, iqn, iwn, IH, ID, s0, s1, s.scores.data(), key);
      }, 256);
    } else {
      index_scores(cache, li, iqn, iwn, IH, ID, 0, visible, s.scores.data(), s.key);
    }
    select_topk(s.scores.data(), visible, c.index_topk, s.order, s.rows);
    if (opt.trace) {
      std::lock_guard<std::mutex> lock(trace_mu);  // tokens may run on several threads
      opt.trace(li, item_of[n], pos_of[n], s.rows, s.scores.data());
    }
    return &s.rows;
  };
  if (N >= 2 * pool.size()) {
    pool.parallel_for(N, [&](int64_t n0, int64_t n1, int) {
      TokenScratch s;
      for (int64_t n = n0; n < n1; ++n) {
        const std::vector<int32_t>* rows = token_rows(static_cast<int>(n), s, false);
        const KvCache& cache = *batch[item_of[n]].cache;
        for (int h = 0; h < H; ++h)
          attend_head(qabs.data() + (n * H + h) * width, cache, li, width, kvl, scale, rows,
                      pos_of[n] + 1, s.probs, olat.data() + (n * H + h) * kvl);
      }
    });
  } else {
    TokenScratch s;
    for (int n = 0; n < N; ++n) {
      const std::vector<int32_t>* rows = token_rows(n, s, true);
      const KvCache& cache = *batch[item_of[n]].cache;
      pool.parallel_for(H, [&](int64_t h0, int64_t h1, int) {
        std::vector<float> probs;
        for (int64_t h = h0; h < h1; ++h)
          attend_head(qabs.data() + (static_cast<size_t>(n) * H + h) * width, cache, li, width, kvl,
                      scale, rows, pos_of[n] + 1, probs,
                      olat.data() + (static_cast<size_t>(n) * H + h) * kvl);
      });
    }
  }

  // Output: the latent through the value part of kv_b, then o_proj.
  std::vector<float> ocat(n_ * H * vd);
  pool.parallel_for(H, [&](int64_t h0, int64_t h1, int) {
    std::vector<float> wv(static_cast<size_t>(vd) * kvl);
    for (int64_t h = h0; h < h1; ++h) {
      L.kv_b.decode_rows(static_cast<int>(h) * (nope + vd) + nope, vd, wv.data());
      for (int n = 0; n < N; ++n)
        for (int j = 0; j < vd; ++j)
          ocat[(static_cast<size_t>(n) * H + h) * vd + j] =
              dot(olat.data() + (static_cast<size_t>(n) * H + h) * kvl,
                  wv.data() + static_cast<size_t>(j) * kvl, kvl);
    }
  });
  matmul(L.o, ocat.data(), N, out, pool);
}

}  // namespace envforge::model
