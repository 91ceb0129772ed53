// GpuModel::forward: checks the batch, splits it into steps of at most max_step_tokens,
// hands out cache blocks, stages each step's inputs and collects the logits.
#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "model/gpu/gpu_model_impl.h"

namespace envforge::model::gpu {

namespace {

[[noreturn]] void bad_forward_input(const std::string& what) {
  throw std::invalid_argument("GpuModel::forward: " + what);
}

int bucket(int v, int cap) {
  int p = 32;
  while (p < v) p *= 2;
  return std::min(p, cap);
}

}  // namespace

std::vector<float> GpuModel::forward(const GpuBatchItem* items, size_t count, bool all_logits) {
  const HostLogits v = forward_view(items, count, all_logits);
  return std::vector<float>(v.data, v.data + v.size);
}

HostLogits GpuModel::forward_view(const GpuBatchItem* items, size_t count, bool all_logits) {
  const std::span<const GpuBatchItem> batch(items, count);
  Impl& m = *impl_;
  const ModelConfig& c = m.cfg;
  // Check everything before touching any state.
  size_t pages_needed = 0, total = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    const GpuBatchItem& it = batch[b];
    if (it.seq < 0 || it.seq >= int(m.seqs.size()) || !m.seqs[it.seq].alive)
      bad_forward_input("batch item " + std::to_string(b) + " names no live sequence (" +
          std::to_string(it.seq) + ")");
    for (size_t o = 0; o < b; ++o)
      if (batch[o].seq == it.seq) bad_forward_input("sequence " + std::to_string(it.seq) + " appears twice");
    if (it.tokens.empty()) bad_forward_input("batch item " + std::to_string(b) + " has no tokens");
    for (int32_t tok : it.tokens)
      if (tok < 0 || tok >= c.vocab_size)
        bad_forward_input("token id " + std::to_string(tok) + " outside the vocabulary of " +
            std::to_string(c.vocab_size));
    const Impl::Seq& s = m.seqs[it.seq];
    const size_t len = s.length + it.tokens.size();
    if (len > size_t(m.opt.max_context))
      bad_forward_input("context of " + std::to_string(len) + " tokens exceeds max_context " +
          std::to_string(m.opt.max_context));
    pages_needed += (len + m.opt.page_size - 1) / m.opt.page_size - s.pages.size();
    total += it.tokens.size();
  }
  if (pages_needed > m.free_pages.size())
    bad_forward_input("needs " + std::to_string(pages_needed) + " more cache blocks, " +
        std::to_string(m.free_pages.size()) + " are free");

  const int T = m.opt.max_step_tokens, V = c.vocab_size;
  const size_t out_rows = all_logits ? total : batch.size();
  if (out_rows * V > m.logits_host_floats) {
    // pinned, so that the device's copy runs at full speed and nothing is paged in per step
    ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    if (m.logits_host) ENVFORGE_CUDA_CHECK(cudaFreeHost(m.logits_host));
    m.logits_host = nullptr;
    m.logits_host_floats = 0;
    ENVFORGE_CUDA_CHECK(cudaMallocHost(&m.logits_host, out_rows * V * sizeof(float)));
    m.logits_host_floats = out_rows * V;
  }
  size_t out_at = 0;  // rows written
  std::vector<size_t> done(batch.size(), 0);
  size_t b = 0;  // first item with tokens left
  const bool one_each = std::all_of(batch.begin(), batch.end(),
                                    [](const GpuBatchItem& it) { return it.tokens.size() == 1; });
  while (b < batch.size()) {
    int n = 0, rows = 0, max_q = 0;
    int32_t* tok = m.in_host;
    int32_t* pos = tok + T;
    int32_t* seq = pos + T;
    int32_t* qlen = seq + T;
    int32_t* orow = qlen + T;
    std::vector<std::pair<size_t, int>> took;  // (item, tokens) of this step
    for (size_t i = b; i < batch.size() && n < T; ++i) {
      const GpuBatchItem& it = batch[i];
      Impl::Seq& s = m.seqs[it.seq];
      const int take = int(std::min<size_t>(it.tokens.size() - done[i], size_t(T - n)));
      for (int j = 0; j < take; ++j) {
        const int p = s.length + j;
        tok[n] = it.tokens[done[i] + j];
        pos[n] = p;
        seq[n] = it.seq;
        qlen[n] = p + 1;
        max_q = std::max(max_q, p + 1);
        if (all_logits || done[i] + j + 1 == it.tokens.size()) orow[rows++] = n;
        ++n;
      }
      // blocks for the new rows
      const int need = (s.length + take + m.opt.page_size - 1) / m.opt.page_size;
      while (int(s.pages.size()) < need) {
        const int32_t page = m.free_pages.back();
        m.free_pages.pop_back();
        m.page_refs[page] = 1;
        m.table_host[size_t(it.seq) * m.max_pages + s.pages.size()] = page;
        s.pages.push_back(page);
      }
      took.emplace_back(i, take);
    }
    std::copy(m.table_host.begin(), m.table_host.end(), orow + T);
    StepShape shape;
    shape.n = n;
    shape.rows = rows;
    shape.sparse = !m.opt.force_dense && max_q > c.index_topk;
    shape.span = bucket(max_q, m.max_pages * m.opt.page_size);
    m.run_step(shape, one_each && n == int(batch.size()));
    m.phase("logits to host");
    if (rows > 0)
      ENVFORGE_CUDA_CHECK(cudaMemcpyAsync(m.logits_host + out_at * V, m.logits.get(),
                                          size_t(rows) * V * sizeof(float),
                                          cudaMemcpyDeviceToHost, m.stream));
    out_at += rows;
    m.phase(nullptr);
    // also guards in_host, which the next step rewrites
    ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    if (m.phases) m.phases->collect();
    for (auto [i, take] : took) {
      m.seqs[batch[i].seq].length += take;
      done[i] += take;
    }
    while (b < batch.size() && done[b] == batch[b].tokens.size()) ++b;
  }
  return {m.logits_host, out_at * size_t(V)};
}

}  // namespace envforge::model::gpu
