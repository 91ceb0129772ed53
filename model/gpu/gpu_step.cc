// One forward step of the GPU model, enqueued on the model's stream: embedding, the layers
// (MLA with DSA, dense MLP or MoE), final norm and LM head of the asked-for rows. Everything
// a step reads from the host is in the step-input block, so a step can be captured as a graph.
#include <algorithm>

#include "engine/cuda/dsa_kernels.h"
#include "model/gpu/gpu_model_impl.h"

namespace envforge::model::gpu {

namespace eg = engine::gpu;
using eg::OutType;

void GpuModel::Impl::enqueue_step(const StepShape& s) {
  const int n = s.n;
  const GpuWeights& W = w;
  phase("embedding");
  eg::embed_rows(W.embed_f32 ? static_cast<const void*>(W.embed_f32_rows.get())
                             : static_cast<const void*>(W.embed_bf16_rows.get()),
                 W.embed_f32, tokens, n, d, h.get(), stream);
  for (int li = 0; li < cfg.num_hidden_layers; ++li) {
    enqueue_attention(li, s);
    enqueue_feed_forward(li, s);
  }
  phase("final norm + lm head");
  eg::gather_rows(h.get(), out_rows, s.rows, d, sel.get(), stream);
  eg::rms_norm(sel.get(), d, W.final_norm.get(), s.rows, d, cfg.rms_norm_eps, nullptr,
               sel_bf.get(), d, stream);
  linear(sel_bf.get(), d, W.lm_head, s.rows, logits.get(), OutType::kF32, cfg.vocab_size);
}

// Index vectors (keys: one head per row, LayerNorm, paged; queries: IH heads, dense) share
// everything else: dims, positions, rope table, E4M3 codes padded to the kernels' shapes.
eg::IndexVectorArgs GpuModel::Impl::index_vector_args(const float* x, int row_stride, int rows,
                                                      int heads, uint8_t* codes, float* scales,
                                                      int out_heads) const {
  eg::IndexVectorArgs a;
  a.x = x;
  a.row_stride = row_stride;
  a.rows = rows;
  a.heads = heads;
  a.dim = ID;
  a.pos = pos;
  a.table = rope_tab;
  a.out_codes = codes;
  a.out_scale = scales;
  a.out_heads = out_heads;
  a.out_dim = eg::kIndexDim;
  return a;
}

void GpuModel::Impl::enqueue_attention(int li, const StepShape& s) {
  const GpuLayerWeights& L = w.layers[li];
  const int n = s.n, ql = cfg.q_lora_rank;
  phase("attn: norm + q_a/kv_a/q_b projections");
  eg::rms_norm(h.get(), d, L.input_norm.get(), n, d, cfg.rms_norm_eps, nullptr, xn_bf.get(), d,
               stream);
  // [q_a | kv_a | indexer k | indexer weights] of xn, then q_norm and [q_b | indexer q].
  linear(xn_bf.get(), d, L.w_a, n, a_out.get(), OutType::kF32, wa);
  eg::rms_norm(a_out.get(), wa, L.q_a_norm.get(), n, ql, cfg.rms_norm_eps, nullptr, qr_bf.get(),
               ql, stream);
  linear(qr_bf.get(), ql, L.w_b, n, b_out.get(), OutType::kF32, wb);

  // New rows of this step into the caches (latent + rope key; FP8 index key).
  phase("attn: cache writes");
  eg::KvWriteArgs kw;
  kw.kv = a_out.get() + ql;
  kw.ld = wa;
  kw.rows = n;
  kw.kvl = kvl;
  kw.norm_w = L.kv_a_norm.get();
  kw.eps = cfg.rms_norm_eps;
  kw.pos = pos;
  kw.seq = seq_of;
  kw.table = rope_tab;
  kw.table_pages = table;
  kw.max_pages = max_pages;
  kw.page_size = opt.page_size;
  kw.kv_pages = kv_pages[li].get();
  eg::write_latent_rows(kw, stream);
  eg::IndexVectorArgs ik = index_vector_args(a_out.get() + ql + kvl + rope, wa, n, 1,
                                              key_pages[li].get(), key_scales[li].get(), 1);
  ik.ln_w = L.idx_k_norm_w.get();
  ik.ln_b = L.idx_k_norm_b.get();
  ik.table_pages = table;
  ik.seq = seq_of;
  ik.max_pages = max_pages;
  ik.page_size = opt.page_size;
  eg::index_vectors(ik, stream);

  // Absorbed query: rope part rotated into q_abs[.., 512..], q_nope through kv_b's key part.
  phase("attn: query absorption");
  eg::split_query(b_out.get(), wb, n, H, nope, kvl, pos, rope_tab, q_nope.get(), q_abs.get(), Hp,
                  stream);
  // per head h: q_abs[:, h, 0:kvl] (col-major kvl x n) = Wk_h^T-view (kvl x nope) * q_nope_h
  blas->batched(false, false, kvl, n, nope, L.kv_b.get(), kvl, long(nope + vd) * kvl,
                q_nope.get(), H * nope, nope, q_abs.get(), OutType::kBf16, Hp * eg::kQkDim,
                eg::kQkDim, H);

  eg::MlaArgs ma;
  ma.q = q_abs.get();
  ma.kv_pages = kv_pages[li].get();
  ma.table = {table, max_pages, opt.page_size};
  ma.q_seq = seq_of;
  ma.q_len = qlen;
  ma.T = n;
  ma.Hq = Hp;
  ma.softmax_scale = softmax_scale;
  ma.out = olat.get();
  ma.workspace = mla_ws.get();
  ma.workspace_bytes = mla_ws_bytes;
  if (s.sparse) {
    phase("attn: indexer + top-k");
    eg::index_vectors(index_vector_args(b_out.get() + H * qkd, wb, n, IH, q8.get(),
                                        q8_scale.get(), eg::kIndexHeads),
                      stream);
    eg::index_weights(a_out.get() + ql + kvl + rope + ID, wa, n, IH, index_weight_scale,
                      eg::kIndexHeads, iwt.get(), stream);
    eg::IndexerArgs ia;
    ia.type = eg::IndexKeyType::kFp8E4M3;
    ia.q = q8.get();
    ia.q_scale = q8_scale.get();
    ia.weights = iwt.get();
    ia.key_pages = key_pages[li].get();
    ia.key_scale = key_scales[li].get();
    ia.table = {table, max_pages, opt.page_size};
    ia.q_seq = seq_of;
    ia.q_pos = pos;
    ia.T = n;
    ia.S = s.span;
    ia.out = scores.get();
    eg::indexer_scores(ia, stream);
    eg::topk_indices(scores.get(), pos, n, s.span, cfg.index_topk, idx.get(), stream);
    eg::sort_selected_rows(idx.get(), n, cfg.index_topk, stream);
    ma.idx = idx.get();
    ma.k = cfg.index_topk;
  } else {
    ma.max_len = s.span;
  }
  phase(s.sparse ? "attn: sparse MLA" : "attn: dense MLA");
  eg::mla_attention(ma, stream);
  phase("attn: value up-projection + o_proj");
  // per head h: ocat[:, h, :] (col-major vd x n) = Wv_h (vd x kvl) * olat_h (kvl x n)
  blas->batched(true, false, vd, n, kvl, L.kv_b.get() + size_t(nope) * kvl, kvl,
                long(nope + vd) * kvl, olat.get(), Hp * eg::kVDim, eg::kVDim, ocat.get(),
                OutType::kBf16, H * vd, vd, H);
  // o_proj straight into the residual stream
  linear(ocat.get(), H * vd, L.o, n, h.get(), OutType::kF32, d, 1.f);
}

void GpuModel::Impl::enqueue_feed_forward(int li, const StepShape& s) {
  const GpuLayerWeights& L = w.layers[li];
  const int n = s.n;
  phase(L.moe ? "moe: norm + router + dispatch" : "dense mlp");
  eg::rms_norm(h.get(), d, L.post_attn_norm.get(), n, d, cfg.rms_norm_eps, xn.get(), xn_bf.get(),
               d, stream);
  auto mlp = [&](const Linear& gate_up, const Linear& down, int inter) {
    linear(xn_bf.get(), d, gate_up, n, gu.get(), OutType::kF32, 2 * inter);
    eg::silu_mul(gu.get(), 2 * inter, n, inter, act.get(), stream);
    linear(act.get(), inter, down, n, h.get(), OutType::kF32, d, 1.f);
  };
  if (!L.moe) {
    mlp(L.gate_up, L.down, cfg.intermediate_size);
    return;
  }
  eg::RouterArgs ra;
  ra.x = xn.get();
  ra.gate_w = L.router.get();
  ra.bias = L.router_bias.get();
  ra.n = n;
  ra.d = d;
  ra.E = E;
  ra.K = K;
  ra.n_group = cfg.n_group;
  ra.topk_group = cfg.topk_group;
  ra.normalize = cfg.norm_topk_prob;
  ra.route_scale = static_cast<float>(cfg.routed_scaling_factor);
  ra.ids = moe_ids.get();
  ra.weights = moe_w.get();
  ra.scores = router_scores.get();
  eg::route(ra, stream);
  const int assign = n * K;
  eg::moe_dispatch(moe_ids.get(), n, K, dispatch, stream);
  eg::moe_gather(xn_bf.get(), dispatch, assign, d, xs.get(), stream);
  phase("moe: experts gate/up");
  eg::moe_grouped_gemm(xs.get(), d, L.experts_gate_up.get(), long(2 * mi) * d, 2 * mi, dispatch,
                       assign, gu_e.get(), stream);
  phase("moe: experts down");
  eg::silu_mul(gu_e.get(), 2 * mi, assign, mi, act_e.get(), stream);
  eg::moe_grouped_gemm(act_e.get(), mi, L.experts_down.get(), long(d) * mi, d, dispatch, assign,
                       ye.get(), stream);
  phase("moe: shared expert + combine");
  if (L.has_shared) mlp(L.shared_gate_up, L.shared_down, L.shared_inter);
  eg::moe_combine(ye.get(), moe_w.get(), dispatch, n, K, d, h.get(), stream);
}

}  // namespace envforge::model::gpu
