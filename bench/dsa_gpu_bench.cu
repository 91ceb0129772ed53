// Decode-step benchmark of one DeepSeek-V3.2 attention layer on the GPU: our DSA path
// (FP8 lightning indexer + top-2048 + sparse MLA attention) against our dense MLA path, at
// batch 1 and 16 and contexts 8K/32K/128K, with random weights and paged caches. Each figure
// is set against the floor, bytes that must move over the device-to-device copy bandwidth
// measured in the same run (and FLOPs over a measured matrix-unit rate when given). Then
// prefill of 32K and 128K tokens, sparse against dense, in tokens per second. Ragged batches
// (query b of B sees L (b + 1) / B rows) show how the kernels spread uneven work.
//
//   dsa_gpu_bench [--json out.json] [--ceilings torch.json] [--quick] [--decode B:L [--ragged]]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/gpu_bench_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/dsa_kernels.h"

namespace gpu = envforge::engine::gpu;
using envforge::bench::Buf;
using envforge::bench::copy_bandwidth;
using envforge::bench::time_graph;
using nlohmann::json;

namespace {

constexpr int kTopK = 2048;
constexpr int kHeads = 128;
constexpr int kPage = 64;
constexpr float kSoftmaxScale = 0.0721687836f * 1.6f;

// Deterministic pseudo-random fill (never all zeros: zeros hide unwritten data and run faster).
__device__ uint32_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return uint32_t(x);
}
__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    p[i] = __float2bfloat16((mix(seed * 0x9E3779B97F4A7C15ULL + i) & 0xFFFF) / 32768.f - 1.f);
}
__global__ void fill_bytes_e4m3(uint8_t* p, size_t n, uint64_t seed) {
  // finite e4m3 values of both signs: exponent field kept below 15
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    const uint32_t r = mix(seed * 0x9E3779B97F4A7C15ULL + i);
    p[i] = uint8_t((r & 0x80) | ((r >> 8) % 0x70));
  }
}
__global__ void fill_f32(float* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    p[i] = lo + (hi - lo) * ((mix(seed * 0x9E3779B97F4A7C15ULL + i) & 0xFFFFFF) / 16777216.f);
}

struct Config {
  int batch;
  int context;
  bool ragged = false;  // query b sees context * (b + 1) / batch rows instead of context
};

json run_config(const Config& c, double bw, double bf16_flops, double fp8_flops, cudaStream_t st,
                int samples) {
  const int B = c.batch, L = c.context;
  std::vector<int32_t> lens(B, L);
  if (c.ragged)
    for (int b = 0; b < B; ++b) lens[b] = std::max(1, int(int64_t(L) * (b + 1) / B));
  double rows = 0, n_sel = 0;  // cache rows the queries see, and rows they select
  for (int len : lens) rows += len, n_sel += std::min(len, kTopK);
  const int pages_per_seq = (L + kPage - 1) / kPage;
  // enough distinct copies of the caches that consecutive steps never hit in L2
  const double per_copy = double(B) * L * (gpu::kIndexDim + 4 + gpu::kQkDim * 2);
  const int copies = std::clamp(int(512e6 / per_copy) + 1, 1, 16);
  const int seqs = B * copies;
  const size_t tokens = size_t(seqs) * pages_per_seq * kPage;

  Buf<uint8_t> idx_keys(tokens * gpu::kIndexDim);
  Buf<float> idx_scale(tokens);
  Buf<__nv_bfloat16> latent(tokens * gpu::kQkDim);
  Buf<int32_t> table(size_t(seqs) * pages_per_seq);
  {  // sequences own interleaved pages, as a paged allocator hands them out
    std::vector<int32_t> t(table.n);
    for (int s = 0; s < seqs; ++s)
      for (int p = 0; p < pages_per_seq; ++p) t[size_t(s) * pages_per_seq + p] = p * seqs + s;
    ENVFORGE_CUDA_CHECK(cudaMemcpy(table.p, t.data(), table.bytes(), cudaMemcpyHostToDevice));
  }
  Buf<uint8_t> q_idx(size_t(B) * gpu::kIndexHeads * gpu::kIndexDim);
  Buf<float> q_scale(size_t(B) * gpu::kIndexHeads), weights(size_t(B) * gpu::kIndexHeads);
  Buf<__nv_bfloat16> q(size_t(B) * kHeads * gpu::kQkDim), out(size_t(B) * kHeads * gpu::kVDim);
  Buf<float> scores(size_t(B) * L);
  Buf<int32_t> topk(size_t(B) * kTopK), q_seq(B), q_pos(B), q_len(B);
  fill_bytes_e4m3<<<1024, 256, 0, st>>>(idx_keys.p, idx_keys.n, 1);
  fill_f32<<<1024, 256, 0, st>>>(idx_scale.p, idx_scale.n, 2, 0.5f / 448, 2.f / 448);
  fill_bf16<<<4096, 256, 0, st>>>(latent.p, latent.n, 3);
  fill_bytes_e4m3<<<64, 256, 0, st>>>(q_idx.p, q_idx.n, 4);
  fill_f32<<<64, 256, 0, st>>>(q_scale.p, q_scale.n, 5, 0.5f / 448, 2.f / 448);
  fill_f32<<<64, 256, 0, st>>>(weights.p, weights.n, 6, -0.2f, 0.2f);
  fill_bf16<<<256, 256, 0, st>>>(q.p, q.n, 7);
  ENVFORGE_CUDA_CHECK_LAUNCH();
  {
    std::vector<int32_t> seq(B), pos(B);
    for (int b = 0; b < B; ++b) seq[b] = b, pos[b] = lens[b] - 1;
    ENVFORGE_CUDA_CHECK(cudaMemcpy(q_seq.p, seq.data(), B * 4, cudaMemcpyHostToDevice));
    ENVFORGE_CUDA_CHECK(cudaMemcpy(q_pos.p, pos.data(), B * 4, cudaMemcpyHostToDevice));
    ENVFORGE_CUDA_CHECK(cudaMemcpy(q_len.p, lens.data(), B * 4, cudaMemcpyHostToDevice));
  }
  const size_t ws_bytes =
      std::max(gpu::mla_workspace_bytes(B, kHeads, kTopK), gpu::mla_workspace_bytes(B, kHeads, L));
  Buf<uint8_t> ws(ws_bytes);

  auto table_of = [&](int copy) {
    return gpu::PageTable{table.p + size_t(copy % copies) * B * pages_per_seq, pages_per_seq,
                          kPage};
  };
  auto indexer = [&](int copy) {
    gpu::IndexerArgs a;
    a.type = gpu::IndexKeyType::kFp8E4M3;
    a.q = q_idx.p, a.q_scale = q_scale.p, a.weights = weights.p;
    a.key_pages = idx_keys.p, a.key_scale = idx_scale.p;
    a.table = table_of(copy);
    a.q_seq = q_seq.p, a.q_pos = q_pos.p, a.T = B, a.S = L, a.out = scores.p;
    gpu::indexer_scores(a, st);
  };
  auto select = [&](int) { gpu::topk_indices(scores.p, q_pos.p, B, L, kTopK, topk.p, st); };
  auto attend = [&](int copy, bool sparse,
                    gpu::MlaKernelChoice kernel = gpu::MlaKernelChoice::kAuto) {
    gpu::MlaArgs a;
    a.kernel = kernel;
    a.q = q.p, a.kv_pages = latent.p, a.table = table_of(copy);
    a.q_seq = q_seq.p, a.q_len = q_len.p;
    a.idx = sparse ? topk.p : nullptr, a.k = kTopK, a.max_len = L;
    a.T = B, a.Hq = kHeads, a.softmax_scale = kSoftmaxScale, a.out = out.p;
    a.workspace = ws.p, a.workspace_bytes = ws.n;
    gpu::mla_attention(a, st);
  };
  const int reps = copies * std::max(1, 8 / copies);
  const double t_idx = time_graph(st, reps, samples, indexer);
  const double t_topk = time_graph(st, reps, samples, select);
  const double t_sattn = time_graph(st, reps, samples, [&](int r) { attend(r, true); });
  // baseline: the same sparse attention on the portable mma.sync kernel
  const double t_sattn_portable = time_graph(
      st, reps, samples, [&](int r) { attend(r, true, gpu::MlaKernelChoice::kPortable); });
  const double t_sparse = time_graph(st, reps, samples, [&](int r) {
    indexer(r);
    select(r);
    attend(r, true);
  });
  const double t_dense = time_graph(st, reps, samples, [&](int r) { attend(r, false); });
  // baseline: the same dense attention on the 32-row ring kernel (the one for sparse rows)
  const double t_dense_ring = time_graph(
      st, reps, samples, [&](int r) { attend(r, false, gpu::MlaKernelChoice::kRing); });

  const double q_bytes = double(B) * (kHeads * gpu::kQkDim * 2 + kHeads * gpu::kVDim * 2 +
                                      gpu::kIndexHeads * (gpu::kIndexDim + 8));
  const double sparse_bytes =
      rows * (gpu::kIndexDim + 4) + n_sel * gpu::kQkDim * 2 + q_bytes;
  const double dense_bytes = rows * gpu::kQkDim * 2 + q_bytes;
  const double idx_flops = 2.0 * rows * gpu::kIndexHeads * gpu::kIndexDim;
  const double attn_flops_per_row = 2.0 * kHeads * (gpu::kQkDim + gpu::kVDim);
  const double sparse_attn_flops = n_sel * attn_flops_per_row;
  const double dense_flops = rows * attn_flops_per_row;
  auto floor_ms = [&](double bytes, double flops_bf16, double flops_fp8) {
    double t = bytes / bw;
    if (bf16_flops > 0 && fp8_flops > 0)
      t = std::max(t, flops_bf16 / bf16_flops + flops_fp8 / fp8_flops);
    return t * 1e3;
  };
  const double sparse_mem_floor = sparse_bytes / bw * 1e3;
  const double dense_mem_floor = dense_bytes / bw * 1e3;
  const double sparse_floor = floor_ms(sparse_bytes, sparse_attn_flops, idx_flops);
  const double dense_floor = floor_ms(dense_bytes, dense_flops, 0);

  json j = {
      {"batch", B},
      {"context", L},
      {"lengths", c.ragged ? "ragged" : "uniform"},
      {"cache_copies", copies},
      {"sparse", {{"ms", t_sparse},
                  {"indexer_ms", t_idx},
                  {"topk_ms", t_topk},
                  {"attention_ms", t_sattn},
                  {"attention_portable_kernel_ms", t_sattn_portable},
                  {"bytes_floor", sparse_bytes},
                  {"flops", idx_flops + sparse_attn_flops},
                  {"achieved_GBps", sparse_bytes / (t_sparse * 1e-3) / 1e9},
                  {"achieved_TFLOPs", (idx_flops + sparse_attn_flops) / (t_sparse * 1e-3) / 1e12},
                  {"memory_floor_ms", sparse_mem_floor},
                  {"floor_ms", sparse_floor},
                  {"x_floor", t_sparse / sparse_floor}}},
      {"dense", {{"ms", t_dense},
                 {"ring_kernel_ms", t_dense_ring},
                 {"bytes_floor", dense_bytes},
                 {"flops", dense_flops},
                 {"achieved_GBps", dense_bytes / (t_dense * 1e-3) / 1e9},
                 {"achieved_TFLOPs", dense_flops / (t_dense * 1e-3) / 1e12},
                 {"memory_floor_ms", dense_mem_floor},
                 {"floor_ms", dense_floor},
                 {"x_floor", t_dense / dense_floor}}},
      {"dense_over_sparse", t_dense / t_sparse},
  };
  std::printf(
      "B=%2d L=%6d%s | sparse %8.4f ms (idx %.4f topk %.4f attn %.4f, mma.sync attn %.4f) %.2fx "
      "floor %.4f | dense %8.4f ms %.2fx floor %.4f (ring kernel %.4f, %.2fx) | dense/sparse "
      "%.1fx\n",
      B, L, c.ragged ? " ragged" : "", t_sparse, t_idx, t_topk, t_sattn, t_sattn_portable,
      t_sparse / sparse_floor, sparse_floor, t_dense, t_dense / dense_floor, dense_floor,
      t_dense_ring, t_dense_ring / t_dense, t_dense / t_sparse);
  std::fflush(stdout);
  return j;
}

// Prefill of one sequence of L tokens in query chunks of kChunk: sparse (indexer + top-k +
// sparse attention, every query its own 2048 rows) against our dense causal attention.
json run_prefill(int L, cudaStream_t st) {
  constexpr int kChunk = 1024;
  const int pages = (L + kPage - 1) / kPage;
  const size_t tokens = size_t(pages) * kPage;
  Buf<uint8_t> idx_keys(tokens * gpu::kIndexDim);
  Buf<float> idx_scale(tokens);
  Buf<__nv_bfloat16> latent(tokens * gpu::kQkDim);
  Buf<int32_t> table(pages);
  {
    std::vector<int32_t> t(pages);
    for (int p = 0; p < pages; ++p) t[p] = p;
    ENVFORGE_CUDA_CHECK(cudaMemcpy(table.p, t.data(), table.bytes(), cudaMemcpyHostToDevice));
  }
  Buf<uint8_t> q_idx(size_t(kChunk) * gpu::kIndexHeads * gpu::kIndexDim);
  Buf<float> q_scale(size_t(kChunk) * gpu::kIndexHeads), weights(size_t(kChunk) * gpu::kIndexHeads);
  Buf<__nv_bfloat16> q(size_t(kChunk) * kHeads * gpu::kQkDim);
  Buf<__nv_bfloat16> out(size_t(kChunk) * kHeads * gpu::kVDim);
  Buf<float> scores(size_t(kChunk) * L);
  Buf<int32_t> topk{size_t(kChunk) * kTopK}, q_seq{size_t(kChunk)}, q_pos{size_t(L)}, q_len{size_t(L)};
  fill_bytes_e4m3<<<1024, 256, 0, st>>>(idx_keys.p, idx_keys.n, 11);
  fill_f32<<<1024, 256, 0, st>>>(idx_scale.p, idx_scale.n, 12, 0.5f / 448, 2.f / 448);
  fill_bf16<<<4096, 256, 0, st>>>(latent.p, latent.n, 13);
  fill_bytes_e4m3<<<256, 256, 0, st>>>(q_idx.p, q_idx.n, 14);
  fill_f32<<<64, 256, 0, st>>>(q_scale.p, q_scale.n, 15, 0.5f / 448, 2.f / 448);
  fill_f32<<<64, 256, 0, st>>>(weights.p, weights.n, 16, -0.2f, 0.2f);
  fill_bf16<<<1024, 256, 0, st>>>(q.p, q.n, 17);
  ENVFORGE_CUDA_CHECK_LAUNCH();
  {
    std::vector<int32_t> seq(kChunk, 0), pos(L), len(L);
    for (int i = 0; i < L; ++i) pos[i] = i, len[i] = i + 1;
    ENVFORGE_CUDA_CHECK(cudaMemcpy(q_seq.p, seq.data(), kChunk * 4, cudaMemcpyHostToDevice));
    ENVFORGE_CUDA_CHECK(cudaMemcpy(q_pos.p, pos.data(), size_t(L) * 4, cudaMemcpyHostToDevice));
    ENVFORGE_CUDA_CHECK(cudaMemcpy(q_len.p, len.data(), size_t(L) * 4, cudaMemcpyHostToDevice));
  }
  const gpu::PageTable tab{table.p, pages, kPage};
  Buf<uint8_t> ws(gpu::mla_workspace_bytes(kChunk, kHeads, L));
  auto sparse_chunk = [&](int c) {
    const int first = c * kChunk, T = std::min(kChunk, L - first), S = first + T;
    gpu::IndexerArgs a;
    a.type = gpu::IndexKeyType::kFp8E4M3;
    a.q = q_idx.p, a.q_scale = q_scale.p, a.weights = weights.p;
    a.key_pages = idx_keys.p, a.key_scale = idx_scale.p, a.table = tab;
    a.q_seq = q_seq.p, a.q_pos = q_pos.p + first, a.T = T, a.S = S, a.out = scores.p;
    gpu::indexer_scores(a, st);
    gpu::topk_indices(scores.p, q_pos.p + first, T, S, kTopK, topk.p, st);
    gpu::MlaArgs m;
    m.q = q.p, m.kv_pages = latent.p, m.table = tab, m.q_seq = q_seq.p, m.q_len = q_len.p + first;
    m.idx = topk.p, m.k = kTopK, m.T = T, m.Hq = kHeads, m.softmax_scale = kSoftmaxScale;
    m.out = out.p;
    gpu::mla_attention(m, st);  // kChunk queries x 2 head groups fill the device: no split
  };
  auto dense_chunk = [&](int c) {
    const int first = c * kChunk, T = std::min(kChunk, L - first);
    gpu::MlaArgs m;
    m.q = q.p, m.kv_pages = latent.p, m.table = tab, m.q_seq = q_seq.p, m.q_len = q_len.p + first;
    m.idx = nullptr, m.max_len = first + T, m.T = T, m.Hq = kHeads;
    m.softmax_scale = kSoftmaxScale, m.out = out.p;
    m.workspace = ws.p, m.workspace_bytes = ws.n;
    gpu::mla_attention(m, st);
  };
  const int chunks = (L + kChunk - 1) / kChunk;
  auto time_all = [&](const std::function<void(int)>& f) {
    f(chunks - 1);  // warm-up on the widest chunk
    ENVFORGE_CUDA_CHECK(cudaStreamSynchronize(st));
    cudaEvent_t a, b;
    ENVFORGE_CUDA_CHECK(cudaEventCreate(&a));
    ENVFORGE_CUDA_CHECK(cudaEventCreate(&b));
    ENVFORGE_CUDA_CHECK(cudaEventRecord(a, st));
    for (int c = 0; c < chunks; ++c) f(c);
    ENVFORGE_CUDA_CHECK(cudaEventRecord(b, st));
    ENVFORGE_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    ENVFORGE_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return double(ms);
  };
  const double sparse_ms = time_all(sparse_chunk);
  const double dense_ms = time_all(dense_chunk);
  double idx_flops = 0, sattn_flops = 0, dense_flops = 0;
  const double per_row = 2.0 * kHeads * (gpu::kQkDim + gpu::kVDim);
  for (int i = 0; i < L; ++i) {
    idx_flops += 2.0 * (i + 1) * gpu::kIndexHeads * gpu::kIndexDim;
    sattn_flops += std::min(i + 1, kTopK) * per_row;
    dense_flops += (i + 1) * per_row;
  }
  std::printf("prefill L=%6d | sparse %9.1f ms %9.0f tok/s %.0f TFLOP/s | dense %9.1f ms %9.0f tok/s "
              "%.0f TFLOP/s | sparse/dense speed %.2fx\n",
              L, sparse_ms, L / (sparse_ms * 1e-3), (idx_flops + sattn_flops) / (sparse_ms * 1e-3) / 1e12,
              dense_ms, L / (dense_ms * 1e-3), dense_flops / (dense_ms * 1e-3) / 1e12,
              dense_ms / sparse_ms);
  std::fflush(stdout);
  return {{"tokens", L},
          {"query_chunk", kChunk},
          {"sparse_ms", sparse_ms},
          {"sparse_tokens_per_s", L / (sparse_ms * 1e-3)},
          {"sparse_flops", idx_flops + sattn_flops},
          {"dense_ms", dense_ms},
          {"dense_tokens_per_s", L / (dense_ms * 1e-3)},
          {"dense_flops", dense_flops},
          {"sparse_speedup", dense_ms / sparse_ms}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, ceilings_path;
  bool quick = false;
  int only_batch = 0, only_context = 0;  // --decode B:L runs that decode configuration alone
  bool only_ragged = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--ceilings" && i + 1 < argc) {
      ceilings_path = argv[++i];
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--decode" && i + 1 < argc &&
               std::sscanf(argv[i + 1], "%d:%d", &only_batch, &only_context) == 2 &&
               only_batch > 0 && only_context > 0) {
      ++i;
    } else if (a == "--ragged") {
      only_ragged = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--json out.json] [--ceilings torch.json] [--quick] "
                   "[--decode B:L [--ragged]]\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    int dev = 0;
    ENVFORGE_CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop;
    ENVFORGE_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    double bf16_flops = 0, fp8_flops = 0;
    if (!ceilings_path.empty()) {
      std::ifstream in(ceilings_path);
      if (!in) throw std::runtime_error("cannot open ceilings file " + ceilings_path);
      const json c = json::parse(in);
      bf16_flops = c.value("bf16_matmul_tflops", 0.0) * 1e12;
      fp8_flops = c.value("fp8_matmul_tflops", 0.0) * 1e12;
    }
    cudaStream_t st;
    ENVFORGE_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    const double bw = copy_bandwidth(st, prop.multiProcessorCount);
    std::printf("device %s, %d SMs, copy bandwidth %.0f GB/s (read+write)", prop.name,
                prop.multiProcessorCount, bw / 1e9);
    if (bf16_flops > 0) std::printf(", bf16 %.0f / fp8 %.0f TFLOP/s", bf16_flops / 1e12, fp8_flops / 1e12);
    std::printf("\n");
    json results = json::array();
    const int samples = quick ? 5 : 15;
    json prefill = json::array(), ragged = json::array();
    if (only_batch > 0) {
      const Config c{only_batch, only_context, only_ragged};
      json& into = only_ragged ? ragged : results;
      into.push_back(run_config(c, bw, bf16_flops, fp8_flops, st, samples));
    } else {
      for (int B : {1, 16})
        for (int L : {8192, 32768, 131072})
          results.push_back(run_config({B, L}, bw, bf16_flops, fp8_flops, st, samples));
      for (int L : {32768, 131072})
        ragged.push_back(run_config({16, L, true}, bw, bf16_flops, fp8_flops, st, samples));
      for (int L : {32768, 131072}) prefill.push_back(run_prefill(L, st));
    }
    const json doc = {
        {"device", prop.name},
        {"sms", prop.multiProcessorCount},
        {"copy_bandwidth_GBps", bw / 1e9},
        {"bf16_matmul_tflops", bf16_flops / 1e12},
        {"fp8_matmul_tflops", fp8_flops / 1e12},
        {"top_k", kTopK},
        {"heads", kHeads},
        {"kv_cache", "bf16 latent 512 + rope 64 per token, 64-token pages"},
        {"index_cache", "fp8 e4m3 128 per token + float scale, 64 heads"},
        {"decode", results},
        {"decode_ragged", ragged},
        {"prefill", prefill},
    };
    if (!json_path.empty()) {
      std::ofstream o(json_path);
      o << doc.dump(2) << "\n";
      if (!o) throw std::runtime_error("cannot write " + json_path);
    }
    cudaStreamDestroy(st);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsa_gpu_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
