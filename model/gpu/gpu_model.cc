#include "model/gpu/gpu_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <tuple>
#include <stdexcept>
#include <string>

#include "engine/checkpoint.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"
#include "model/gpu/gpu_model_impl.h"
#include "model/ops.h"

namespace envforge::model::gpu {

namespace eg = engine::gpu;
using eg::OutType;

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("GpuModel: " + what); }

int next_pow2(int v) {
  int p = 1;
  while (p < v) p *= 2;
  return p;
}

}  // namespace

GpuModel::Impl::~Impl() {
  for (auto& [key, exec] : graphs) cudaGraphExecDestroy(exec);
  if (in_host) cudaFreeHost(in_host);
  if (logits_host) cudaFreeHost(logits_host);
  blas.reset();
  fp8.reset();
  if (stream) cudaStreamDestroy(stream);
}

void GpuModel::Impl::init(const ModelWeights& host_w) {
  const ModelConfig& c = cfg;
  d = c.hidden_size;
  H = c.num_attention_heads;
  Hp = (H + eg::kMlaHeadsPerBlock - 1) / eg::kMlaHeadsPerBlock * eg::kMlaHeadsPerBlock;
  nope = c.qk_nope_head_dim;
  rope = c.qk_rope_head_dim;
  qkd = c.qk_head_dim();
  kvl = c.kv_lora_rank;
  vd = c.v_head_dim;
  IH = c.index_n_heads;
  ID = c.index_head_dim;
  // What the DSA kernels are built for (DeepSeek-V3.2's dimensions are the largest allowed).
  if (kvl > eg::kVDim || rope > eg::kQkDim - eg::kVDim)
    bad("kv_lora_rank " + std::to_string(kvl) + " / qk_rope_head_dim " + std::to_string(rope) +
        " exceed the kernels' 512 / 64");
  if (IH > eg::kIndexHeads || ID > eg::kIndexDim || (ID & (ID - 1)) != 0 || rope > ID)
    bad("indexer of " + std::to_string(IH) + " heads x " + std::to_string(ID) +
        " dims does not fit the kernels' 64 x 128 (power-of-two dims, rope part inside)");
  if (opt.max_context <= 0) opt.max_context = c.max_position_embeddings;
  if (opt.max_context > c.max_position_embeddings)
    bad("max_context " + std::to_string(opt.max_context) + " exceeds max_position_embeddings " +
        std::to_string(c.max_position_embeddings));
  if (opt.page_size <= 0 || opt.page_size % 32 != 0)
    bad("page_size must be a positive multiple of 32, got " + std::to_string(opt.page_size));
  if (opt.max_seqs <= 0 || opt.max_step_tokens <= 0 || opt.max_step_tokens > 65535)
    bad("max_seqs and max_step_tokens (<= 65535) must be positive");
  max_pages = (opt.max_context + opt.page_size - 1) / opt.page_size;
  num_pages = opt.num_pages > 0 ? opt.num_pages : max_pages * opt.max_seqs;
  softmax_scale = static_cast<float>(c.softmax_scale());
  index_weight_scale = static_cast<float>(1.0 / std::sqrt(double(IH))) *
                       static_cast<float>(1.0 / std::sqrt(double(ID)));

  ENVFORGE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  blas = std::make_unique<eg::Blas>(stream);
  w = GpuWeights::upload(host_w, c, opt.fp8_gemm);
  wa = w.layers.empty() ? 0 : w.layers[0].w_a.rows;
  wb = w.layers.empty() ? 0 : w.layers[0].w_b.rows;

  // RoPE table: cos/sin of pos * inv_freq in double, rounded to float as the CPU does.
  const std::vector<double> inv_freq = rope_inv_freq(c);
  std::vector<float2> tab(size_t(opt.max_context) * (rope / 2));
  for (int p = 0; p < opt.max_context; ++p)
    for (int i = 0; i < rope / 2; ++i) {
      const double ang = double(p) * inv_freq[i];
      tab[size_t(p) * (rope / 2) + i] = make_float2(float(std::cos(ang)), float(std::sin(ang)));
    }
  rope_table = DeviceArray<float2>(tab);
  rope_tab = {rope_table.get(), opt.max_context, rope};

  const size_t rows = size_t(num_pages) * opt.page_size;
  for (int li = 0; li < c.num_hidden_layers; ++li) {
    kv_pages.emplace_back(rows * eg::kQkDim);
    key_pages.emplace_back(rows * eg::kIndexDim);
    key_scales.emplace_back(rows);
    // zeros: rows never written are still finite where a padded read touches them
    ENVFORGE_CUDA_CHECK(cudaMemset(kv_pages.back().get(), 0, kv_pages.back().bytes()));
    ENVFORGE_CUDA_CHECK(cudaMemset(key_pages.back().get(), 0, key_pages.back().bytes()));
    ENVFORGE_CUDA_CHECK(cudaMemset(key_scales.back().get(), 0, key_scales.back().bytes()));
  }
  seqs.resize(opt.max_seqs);
  for (int p = num_pages - 1; p >= 0; --p) free_pages.push_back(p);
  page_refs.assign(num_pages, 0);
  table_host.assign(size_t(opt.max_seqs) * max_pages, 0);

  const int T = opt.max_step_tokens;
  const size_t Ts = size_t(T);
  in_count = 5 * Ts + table_host.size();
  ENVFORGE_CUDA_CHECK(cudaMallocHost(&in_host, in_count * sizeof(int32_t)));
  in_dev = DeviceArray<int32_t>(in_count);
  tokens = in_dev.get();
  pos = tokens + Ts;
  seq_of = pos + Ts;
  qlen = seq_of + Ts;
  out_rows = qlen + Ts;
  table = out_rows + Ts;

  E = c.n_routed_experts;
  K = c.num_experts_per_tok;
  mi = c.moe_intermediate_size;
  int shared_inter = 0;
  for (const auto& l : w.layers) shared_inter = std::max(shared_inter, l.shared_inter);
  max_inter = std::max({c.intermediate_size, shared_inter, 1});
  h = DeviceArray<float>(Ts * d);
  xn = DeviceArray<float>(Ts * d);
  xn_bf = DeviceArray<__nv_bfloat16>(Ts * d);
  a_out = DeviceArray<float>(Ts * wa);
  qr_bf = DeviceArray<__nv_bfloat16>(Ts * c.q_lora_rank);
  b_out = DeviceArray<float>(Ts * wb);
  q_nope = DeviceArray<__nv_bfloat16>(Ts * H * nope);
  q_abs = DeviceArray<__nv_bfloat16>(Ts * Hp * eg::kQkDim);
  q8 = DeviceArray<uint8_t>(Ts * eg::kIndexHeads * eg::kIndexDim);
  q8_scale = DeviceArray<float>(Ts * eg::kIndexHeads);
  iwt = DeviceArray<float>(Ts * eg::kIndexHeads);
  scores = DeviceArray<float>(Ts * next_pow2(opt.max_context));
  idx = DeviceArray<int32_t>(Ts * c.index_topk);
  olat = DeviceArray<__nv_bfloat16>(Ts * Hp * eg::kVDim);
  ocat = DeviceArray<__nv_bfloat16>(Ts * H * vd);
  gu = DeviceArray<float>(Ts * 2 * max_inter);
  act = DeviceArray<__nv_bfloat16>(Ts * max_inter);
  sel = DeviceArray<float>(Ts * d);
  sel_bf = DeviceArray<__nv_bfloat16>(Ts * d);
  logits = DeviceArray<float>(Ts * c.vocab_size);
  if (E > 0 && c.first_k_dense_replace < c.num_hidden_layers) {
    const size_t A = Ts * K;
    moe_ids = DeviceArray<int32_t>(A);
    moe_w = DeviceArray<float>(A);
    router_scores = DeviceArray<float>(size_t(T) * E);
    xs = DeviceArray<__nv_bfloat16>(A * d);
    gu_e = DeviceArray<float>(A * 2 * mi);
    act_e = DeviceArray<__nv_bfloat16>(A * mi);
    ye = DeviceArray<float>(A * d);
    dispatch_buf = DeviceArray<char>(eg::moe_dispatch_bytes(int(A), E));
    dispatch = eg::moe_dispatch_view(dispatch_buf.get(), int(A), E);
  }
  // FP8 linear layers: one quantization scratch for the widest input, then a support check
  // of every FP8 segment with its real output layout.
  {
    std::vector<std::tuple<Linear*, OutType, int, bool>> lins;
    lins.emplace_back(&w.lm_head, OutType::kF32, c.vocab_size, false);
    for (auto& L : w.layers) {
      lins.emplace_back(&L.w_a, OutType::kF32, wa, false);
      lins.emplace_back(&L.w_b, OutType::kF32, wb, false);
      lins.emplace_back(&L.o, OutType::kF32, d, true);
      if (!L.moe) {
        lins.emplace_back(&L.gate_up, OutType::kF32, 2 * c.intermediate_size, false);
        lins.emplace_back(&L.down, OutType::kF32, d, true);
      } else if (L.has_shared) {
        lins.emplace_back(&L.shared_gate_up, OutType::kF32, 2 * L.shared_inter, false);
        lins.emplace_back(&L.shared_down, OutType::kF32, d, true);
      }
    }
    int max_k = 0;
    for (auto& [lin, t, ld, acc] : lins)
      if (lin->any_fp8()) max_k = std::max(max_k, lin->cols);
    if (max_k > 0) {
      fp8 = std::make_unique<eg::Fp8Gemm>(stream, T, max_k);
      for (auto& [lin, t, ld, acc] : lins) settle_fp8(*lin, t, ld, acc);
    }
  }
  // The attention's split scratch depends on the token count and the row bound.
  for (int t = 1; t <= T; ++t)
    for (int r : {c.index_topk, next_pow2(opt.max_context)})
      mla_ws_bytes = std::max(mla_ws_bytes, eg::mla_workspace_bytes(t, Hp, r));
  mla_ws = DeviceArray<float>((mla_ws_bytes + 3) / 4);
  ENVFORGE_CUDA_CHECK(cudaDeviceSynchronize());
}

void GpuModel::Impl::settle_fp8(Linear& lin, OutType y_type, int ld_y, bool accumulate) {
  const size_t elem = y_type == OutType::kF32 ? 4 : 2;
  for (LinearSegment& seg : lin.segs) {
    if (!seg.fp8) continue;
    // the output columns start at row0: cuBLASLt picks kernels by the address alignment
    const size_t off = seg.row0 * elem;
    int align = 256;
    while (align > 16 && off % align != 0) align /= 2;
    bool ok = off % 16 == 0;
    for (int n : {1, opt.max_seqs, opt.max_step_tokens})
      ok = ok && fp8->supports(seg.rows, n, eg::fp8_padded_k(lin.cols), y_type, ld_y, accumulate,
                               align);
    if (ok) {
      ++stats.fp8_segments;
      continue;
    }
    Bf16Array b(size_t(seg.rows) * lin.cols);
    eg::fp8_dequantize_weight({seg.codes.get(), seg.scales.get(), seg.rows, lin.cols,
                               eg::fp8_padded_k(lin.cols)},
                              b.get(), lin.cols, stream);
    ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(stream));
    seg.bf16 = std::move(b);
    seg.codes = {};
    seg.scales = {};
    seg.fp8 = false;
    ++stats.fp8_fallbacks;
  }
}

void GpuModel::Impl::linear(const __nv_bfloat16* x, int ld_x, const Linear& lin, int n, void* y,
                            OutType y_type, int ld_y, float beta) {
  const size_t elem = y_type == OutType::kF32 ? 4 : 2;
  for (const LinearSegment& seg : lin.segs) {
    void* ys = static_cast<char*>(y) + size_t(seg.row0) * elem;
    if (seg.fp8) {
      fp8->linear(x, ld_x, n,
                  {seg.codes.get(), seg.scales.get(), seg.rows, lin.cols,
                   eg::fp8_padded_k(lin.cols)},
                  ys, y_type, ld_y, beta);
    } else {
      blas->linear(x, ld_x, seg.bf16.get(), n, seg.rows, lin.cols, ys, y_type, ld_y, beta);
    }
  }
}

void GpuModel::Impl::run_step(const StepShape& s, bool decode) {
  phase("inputs to device");
  ENVFORGE_CUDA_CHECK(cudaMemcpyAsync(in_dev.get(), in_host, in_count * sizeof(int32_t),
                                      cudaMemcpyHostToDevice, stream));
  ++stats.steps;
  if (s.sparse) ++stats.sparse_steps;
  if (!(decode && opt.cuda_graphs) || phases) {
    enqueue_step(s);
    return;
  }
  const auto key = s.key();
  auto it = graphs.find(key);
  if (it == graphs.end()) {
    // The first step of a shape runs eagerly (one-time set-up of the kernels stays out of the
    // capture); the second is captured, and every later one replays the graph.
    if (++seen[key] < 2) {
      enqueue_step(s);
      return;
    }
    cudaGraph_t graph = nullptr;
    ENVFORGE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue_step(s);
    } catch (...) {
      cudaStreamEndCapture(stream, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    ENVFORGE_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    ENVFORGE_CUDA_CHECK(err);
    it = graphs.emplace(key, exec).first;
    ++stats.graphs_captured;
  }
  ENVFORGE_CUDA_CHECK(cudaGraphLaunch(it->second, stream));
  ++stats.graph_replays;
}

GpuModel::GpuModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GpuModel::~GpuModel() = default;

std::unique_ptr<GpuModel> GpuModel::load(const std::string& dir, const GpuModelOptions& opt) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = ModelConfig::load((std::filesystem::path(dir) / "config.json").string());
  impl->opt = opt;
  const engine::Checkpoint ckpt = engine::Checkpoint::open(dir);
  const ModelWeights host_w = ModelWeights::load(ckpt, impl->cfg);
  impl->init(host_w);
  return std::unique_ptr<GpuModel>(new GpuModel(std::move(impl)));
}

const ModelConfig& GpuModel::config() const { return impl_->cfg; }
const GpuModelOptions& GpuModel::options() const { return impl_->opt; }
const GpuModelStats& GpuModel::stats() const { return impl_->stats; }
size_t GpuModel::weight_bytes() const { return impl_->w.device_bytes; }
std::vector<std::pair<std::string, double>> GpuModel::phase_times() const {
  return impl_->phases ? impl_->phases->totals() : std::vector<std::pair<std::string, double>>{};
}
void GpuModel::set_phase_timing(bool on) {
  impl_->phases = on ? std::make_unique<PhaseTimer>() : nullptr;
}
size_t GpuModel::cache_bytes() const {
  size_t b = 0;
  for (size_t i = 0; i < impl_->kv_pages.size(); ++i)
    b += impl_->kv_pages[i].bytes() + impl_->key_pages[i].bytes() + impl_->key_scales[i].bytes();
  return b;
}

int GpuModel::new_sequence() {
  for (size_t i = 0; i < impl_->seqs.size(); ++i)
    if (!impl_->seqs[i].alive) {
      impl_->seqs[i] = Impl::Seq{true, 0, {}};
      return int(i);
    }
  throw std::runtime_error("GpuModel: all " + std::to_string(impl_->seqs.size()) +
                           " sequences are in use");
}

void GpuModel::release_sequence(int seq) {
  if (seq < 0 || seq >= int(impl_->seqs.size()) || !impl_->seqs[seq].alive)
    bad("release_sequence: no live sequence " + std::to_string(seq));
  Impl::Seq& s = impl_->seqs[seq];
  for (int32_t p : s.pages) release_page(p);
  std::fill_n(impl_->table_host.begin() + size_t(seq) * impl_->max_pages, impl_->max_pages, 0);
  s = Impl::Seq{};
}

int GpuModel::new_sequence(const std::vector<int32_t>& prefix_pages) {
  Impl& m = *impl_;
  if (int(prefix_pages.size()) > m.max_pages)
    bad("new_sequence: " + std::to_string(prefix_pages.size()) + " prefix blocks, a sequence has at most " +
        std::to_string(m.max_pages));
  for (int32_t p : prefix_pages)
    if (p < 0 || p >= m.num_pages || m.page_refs[p] <= 0)
      bad("new_sequence: prefix block " + std::to_string(p) + " is not in use");
  const int seq = new_sequence();
  Impl::Seq& s = m.seqs[seq];
  for (int32_t p : prefix_pages) {
    ++m.page_refs[p];
    m.table_host[size_t(seq) * m.max_pages + s.pages.size()] = p;
    s.pages.push_back(p);
  }
  s.length = int(prefix_pages.size()) * m.opt.page_size;
  return seq;
}

std::vector<int32_t> GpuModel::pages(int seq) const {
  if (seq < 0 || seq >= int(impl_->seqs.size()) || !impl_->seqs[seq].alive)
    bad("pages: no live sequence " + std::to_string(seq));
  return impl_->seqs[seq].pages;
}

void GpuModel::retain_page(int32_t page) {
  if (page < 0 || page >= impl_->num_pages || impl_->page_refs[page] <= 0)
    bad("retain_page: block " + std::to_string(page) + " is not in use");
  ++impl_->page_refs[page];
}

void GpuModel::release_page(int32_t page) {
  if (page < 0 || page >= impl_->num_pages || impl_->page_refs[page] <= 0)
    bad("release_page: block " + std::to_string(page) + " is not in use");
  if (--impl_->page_refs[page] == 0) impl_->free_pages.push_back(page);
}

size_t GpuModel::free_pages() const { return impl_->free_pages.size(); }

void GpuModel::append_synthetic_context(int seq, int n, uint32_t seed) {
  Impl& m = *impl_;
  if (seq < 0 || seq >= int(m.seqs.size()) || !m.seqs[seq].alive)
    bad("append_synthetic_context: no live sequence " + std::to_string(seq));
  Impl::Seq& s = m.seqs[seq];
  const int P = m.opt.page_size;
  if (n <= 0 || s.length + n > m.opt.max_context)
    bad("append_synthetic_context: " + std::to_string(n) + " tokens after " + std::to_string(s.length) +
        " do not fit max_context " + std::to_string(m.opt.max_context));
  const size_t need = size_t((s.length + n + P - 1) / P) - s.pages.size();
  if (need > m.free_pages.size())
    bad("append_synthetic_context: needs " + std::to_string(need) + " cache blocks, " +
        std::to_string(m.free_pages.size()) + " are free");
  // A pool of random rows on the device, copied into the new slots page run by page run.
  const int pool_rows = 4 * P;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<__nv_bfloat16> kv(size_t(pool_rows) * eg::kQkDim);
  for (auto& v : kv) v = __float2bfloat16(nd(rng));
  std::vector<uint8_t> codes(size_t(pool_rows) * eg::kIndexDim, 0);
  std::vector<float> scales(pool_rows);
  std::vector<float> key(eg::kIndexDim, 0.f);
  for (int r = 0; r < pool_rows; ++r) {
    for (int j = 0; j < m.ID; ++j) key[j] = nd(rng);
    fp8_quantize(key.data(), eg::kIndexDim, &codes[size_t(r) * eg::kIndexDim], &scales[r]);
  }
  DeviceArray<__nv_bfloat16> kv_pool(kv);
  DeviceArray<uint8_t> code_pool(codes);
  DeviceArray<float> scale_pool(scales);
  while (int(s.pages.size()) * P < s.length + n) {
    const int32_t page = m.free_pages.back();
    m.free_pages.pop_back();
    m.page_refs[page] = 1;
    m.table_host[size_t(seq) * m.max_pages + s.pages.size()] = page;
    s.pages.push_back(page);
  }
  for (int pos = s.length; pos < s.length + n;) {
    const int slot = pos % P, run = std::min(P - slot, s.length + n - pos);
    const size_t row = size_t(s.pages[pos / P]) * P + slot;
    const int src = int(rng() % uint32_t(pool_rows - run + 1));
    for (int li = 0; li < m.cfg.num_hidden_layers; ++li) {
      ENVFORGE_CUDA_CHECK(cudaMemcpyAsync(m.kv_pages[li].get() + row * eg::kQkDim,
                                          kv_pool.get() + size_t(src) * eg::kQkDim,
                                          size_t(run) * eg::kQkDim * 2, cudaMemcpyDeviceToDevice, m.stream));
      ENVFORGE_CUDA_CHECK(cudaMemcpyAsync(m.key_pages[li].get() + row * eg::kIndexDim,
                                          code_pool.get() + size_t(src) * eg::kIndexDim,
                                          size_t(run) * eg::kIndexDim, cudaMemcpyDeviceToDevice, m.stream));
      ENVFORGE_CUDA_CHECK(cudaMemcpyAsync(m.key_scales[li].get() + row, scale_pool.get() + src,
                                          size_t(run) * 4, cudaMemcpyDeviceToDevice, m.stream));
    }
    pos += run;
  }
  ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  s.length += n;
}

int GpuModel::length(int seq) const {
  if (seq < 0 || seq >= int(impl_->seqs.size()) || !impl_->seqs[seq].alive)
    bad("length: no live sequence " + std::to_string(seq));
  return impl_->seqs[seq].length;
}

}  // namespace envforge::model::gpu
