// The serving engine's figures, each against a baseline measured in the same run.
//
// CPU (always; the bundled tiny checkpoint): decode throughput of S concurrent requests through
// the batch engine against the same requests one at a time, and the prefix cache's time to
// first token for the K-th attempt of a task against the first.
//
// GPU (builds with the GPU model runner, --gpu, a full-shape checkpoint from
// model/tools/make_full_shape_checkpoint.py): on the real per-layer shapes,
//  - decode throughput of S sessions that share a prefix, at contexts spread over
//    [min, max], one step for all against one session at a time, and against the step's floor
//    (weights the step reads + the caches it reads, once, at the measured copy bandwidth);
//  - batch-1 decode latency at the given contexts against its floor;
//  - time to first token of the K-th attempt of a task against the first (prefix cache).
// Long contexts are filled with synthetic cache rows (GpuModel::append_synthetic_context),
// not prefilled: decode cost depends on the rows' count, not their values.
//
//   serving_bench [--model DIR] [--gpu] [--sessions S] [--prefix N] [--min-context N]
//                 [--max-context N] [--steps N] [--latency 32768,131072] [--ttft-prompt N]
//                 [--attempts K] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/batch_engine.h"
#include "model/cpu_runner.h"
#include "model/transformer.h"
#if defined(ENVFORGE_HAVE_GPU_MODEL)
#include <cuda_runtime.h>

#include "model/gpu/gpu_runner.h"
#endif

namespace {

using namespace envforge;
using nlohmann::json;
using BenchClock = std::chrono::steady_clock;

double ms_since(BenchClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<int32_t> random_prompt(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % std::min(vocab, 256));
  return t;
}

struct Args {
  std::string model = std::string(ENVFORGE_SOURCE_DIR) + "/model/checkpoints/tiny-moe-fp8";
  bool gpu = false;
  int sessions = 0, prefix = 0, min_context = 0, max_context = 0, steps = 0;
  std::vector<int> latency = {32768, 131072};
  int ttft_prompt = 0, attempts = 8;
  std::string json_path;
};

// Time to first token of attempts 1..K of one prompt, one after another.
json prefix_ttft(model::BatchEngine& eng, const std::vector<int32_t>& prompt, int attempts) {
  std::vector<double> ttft;
  for (int k = 0; k < attempts; ++k) {
    model::GenerationRequest r;
    r.prompt = prompt;
    r.max_tokens = 2;
    r.sampling.temperature = 0.8f;
    r.sampling.seed = 100 + k;
    const auto t0 = BenchClock::now();
    double first = -1;
    eng.generate(r, [&](int32_t, const envforge::model::TokenLogprob*) {
      if (first < 0) first = ms_since(t0);
      return true;
    });
    ttft.push_back(first);
  }
  std::vector<double> later(ttft.begin() + 1, ttft.end());
  const auto s = eng.stats().prefix;
  json j = {{"prompt_tokens", prompt.size()}, {"attempts", attempts}, {"first_ms", ttft[0]},
            {"later_median_ms", median(later)}, {"all_ms", ttft},
            {"first_over_later", ttft[0] / median(later)}, {"hit_tokens", s.hit_tokens}};
  std::printf("prefix cache: %zu-token prompt, time to first token %.2f ms first, %.2f ms median of attempts 2..%d (%.1fx)\n",
              prompt.size(), ttft[0], median(later), attempts, ttft[0] / median(later));
  return j;
}

json cpu_figures(const Args& a) {
  auto m = model::Model::load(a.model);
  const int V = m->config().vocab_size;
  const int S = a.sessions > 0 ? a.sessions : 16, max_new = a.steps > 0 ? a.steps : 16;
  const int lo = a.min_context > 0 ? a.min_context : 64, hi = a.max_context > 0 ? a.max_context : 256;
  std::vector<model::GenerationRequest> reqs;
  for (int s = 0; s < S; ++s) {
    model::GenerationRequest r;
    r.prompt = random_prompt(lo + (hi - lo) * s / std::max(1, S - 1), V, 7 + s);
    r.max_tokens = max_new;
    r.stop_tokens = {};
    reqs.push_back(r);
  }
  auto run = [&](bool together) {
    model::EngineOptions o;
    o.prefix_cache_pages = 0;
    model::BatchEngine eng(std::make_unique<model::CpuRunner>(*m), o);
    long tokens = 0;
    const auto t0 = BenchClock::now();
    if (together) {
      std::vector<std::future<model::GenerationResult>> fs;
      for (const auto& r : reqs) fs.push_back(eng.submit(r));
      for (auto& f : fs) tokens += static_cast<long>(f.get().tokens.size());
    } else {
      for (const auto& r : reqs) tokens += static_cast<long>(eng.generate(r).tokens.size());
    }
    const double ms = ms_since(t0);
    return std::pair{tokens / (ms / 1e3), eng.stats().max_batch};
  };
  const auto [alone_tps, alone_batch] = run(false);
  const auto [batched_tps, batch] = run(true);
  std::printf("cpu engine (%s): %d requests of %d-%d prompt tokens, %d new tokens each: "
              "%.1f tok/s together (batch up to %d) vs %.1f tok/s one at a time (%.2fx)\n",
              a.model.c_str(), S, lo, hi, max_new, batched_tps, batch, alone_tps, batched_tps / alone_tps);
  json j = {{"model", a.model}, {"requests", S}, {"prompt_tokens", {lo, hi}}, {"new_tokens", max_new},
            {"together_tokens_per_s", batched_tps}, {"one_at_a_time_tokens_per_s", alone_tps},
            {"ratio", batched_tps / alone_tps}, {"max_batch", batch}};
  model::BatchEngine eng(std::make_unique<model::CpuRunner>(*m));
  j["prefix_ttft"] = prefix_ttft(eng, random_prompt(a.ttft_prompt > 0 ? a.ttft_prompt : 1000, V, 99),
                                 a.attempts);
  return {{"cpu", j}};
}

#if defined(ENVFORGE_HAVE_GPU_MODEL)
#define BENCH_CUDA(x)                                                                  \
  do {                                                                                 \
    const cudaError_t e_ = (x);                                                        \
    if (e_ != cudaSuccess) throw std::runtime_error(std::string(#x) + ": " + cudaGetErrorString(e_)); \
  } while (0)

// Device-to-device copy rate, bytes read plus bytes written per second.
double copy_bandwidth() {
  const size_t n = size_t(1) << 30;
  void *a = nullptr, *b = nullptr;
  BENCH_CUDA(cudaMalloc(&a, n));
  BENCH_CUDA(cudaMalloc(&b, n));
  BENCH_CUDA(cudaMemset(a, 1, n));
  for (int i = 0; i < 2; ++i) BENCH_CUDA(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
  BENCH_CUDA(cudaDeviceSynchronize());
  const auto t0 = BenchClock::now();
  const int reps = 10;
  for (int i = 0; i < reps; ++i) BENCH_CUDA(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
  BENCH_CUDA(cudaDeviceSynchronize());
  const double s = ms_since(t0) / 1e3;
  cudaFree(a);
  cudaFree(b);
  return 2.0 * n * reps / s;
}

// Bytes one decode step must read: the weights its tokens use (the routed experts expected to
// be chosen by B tokens at random, the bf16 experts as the runner stores them) and, per
// sequence and layer, its index keys and the latent rows attention reads.
struct StepFloor {
  double weight_bytes = 0, cache_bytes = 0;
};
StepFloor step_floor(const model::ModelConfig& c, size_t device_weight_bytes, const std::vector<int>& contexts) {
  StepFloor f;
  const double E = c.n_routed_experts, K = c.num_experts_per_tok, B = double(contexts.size());
  const double expert_bytes = 3.0 * c.hidden_size * c.moe_intermediate_size * 2;  // bf16 on the device
  const int moe_layers = c.num_hidden_layers - std::min(c.first_k_dense_replace, c.num_hidden_layers);
  const double touched = E * (1 - std::pow(1 - K / E, B));
  const double embed = double(c.vocab_size) * c.hidden_size * 2;
  f.weight_bytes = double(device_weight_bytes) - embed - moe_layers * (E - touched) * expert_bytes;
  for (int ctx : contexts) {
    const double rows = std::min(ctx, c.index_topk);
    f.cache_bytes += c.num_hidden_layers * (double(ctx) * (128 + 4) + rows * 576 * 2);
  }
  return f;
}

json gpu_figures(const Args& a) {
  namespace mg = model::gpu;
  const int S = a.sessions > 0 ? a.sessions : 64, prefix = a.prefix > 0 ? a.prefix : 2048;
  const int lo = a.min_context > 0 ? a.min_context : 8192, hi = a.max_context > 0 ? a.max_context : 32768;
  const int steps = a.steps > 0 ? a.steps : 16;
  const int ttft_prompt = a.ttft_prompt > 0 ? a.ttft_prompt : 2048;
  int longest = hi;
  for (int l : a.latency) longest = std::max(longest, l);
  mg::GpuModelOptions go;
  go.page_size = 64;
  go.max_seqs = S + 2;
  go.max_context = longest + 256;
  go.max_step_tokens = 256;
  const int P = go.page_size;
  // Pages: the shared prefix once, each session's own rows, the longest latency run, a prompt.
  go.num_pages = prefix / P + S * ((hi - prefix) / P + steps / P + 3) + (longest + 256) / P + 2 * (ttft_prompt / P + 2);
  const double bw = copy_bandwidth();
  std::printf("device-to-device copy: %.0f GB/s (read + write)\n", bw / 1e9);
  const auto t_load = BenchClock::now();
  auto runner = mg::GpuRunner::load(a.model, go);
  mg::GpuModel& m = runner->model();
  const model::ModelConfig& c = m.config();
  std::printf("loaded %s: %d layers (%d dense), weights %.2f GB, caches %.2f GB, in %.1f s\n", a.model.c_str(),
              c.num_hidden_layers, c.first_k_dense_replace, m.weight_bytes() / 1e9, m.cache_bytes() / 1e9,
              ms_since(t_load) / 1e3);
  const int L = c.num_hidden_layers, V = c.vocab_size;
  json out = {{"layers", L}, {"dense_layers", c.first_k_dense_replace}, {"weight_bytes", m.weight_bytes()},
              {"copy_bandwidth_GBps", bw / 1e9}, {"page_size", P}};

  // Sessions sharing a prefix, at contexts spread over [lo, hi) (all within one span bucket).
  const int seq0 = m.new_sequence();
  m.append_synthetic_context(seq0, prefix, 1);
  const std::vector<int32_t> prefix_pages = m.pages(seq0);
  std::vector<int> seqs, ctx;
  for (int s = 0; s < S; ++s) {
    const int want = lo + int((long(hi - lo - 2 * steps - 8)) * s / std::max(1, S - 1));
    seqs.push_back(m.new_sequence(prefix_pages));
    m.append_synthetic_context(seqs.back(), want - prefix, 2 + s);
    ctx.push_back(want);
  }
  m.release_sequence(seq0);
  std::vector<int32_t> next(S);
  std::vector<mg::GpuBatchItem> items(S);
  auto batched_step = [&](int k) {
    for (int s = 0; s < S; ++s) {
      next[s] = int32_t((k * 131 + s * 17) % V);
      items[s] = {seqs[s], mg::TokenView(&next[s], 1)};
    }
    const auto t0 = BenchClock::now();
    m.forward_view(items.data(), items.size());
    return ms_since(t0);
  };
  for (int k = 0; k < 3; ++k) batched_step(k);  // eager, capture, replay
  std::vector<double> bms;
  for (int k = 0; k < steps; ++k) bms.push_back(batched_step(3 + k));
  // One session at a time: every session's first steps warm its shape, then timed steps.
  auto single_step = [&](int s, int k) {
    next[s] = int32_t((k * 131 + s * 17) % V);
    mg::GpuBatchItem it{seqs[s], mg::TokenView(&next[s], 1)};
    const auto t0 = BenchClock::now();
    m.forward_view(&it, 1);
    return ms_since(t0);
  };
  for (int s = 0; s < S; ++s)
    for (int k = 0; k < 2; ++k) single_step(s, 100 + k);
  double single_total = 0;
  std::vector<double> sms;
  for (int s = 0; s < S; ++s) {
    const double t = single_step(s, 200);
    sms.push_back(t);
    single_total += t;
  }
  for (int& x : ctx) x += 3 + steps;
  const double step_ms = median(bms);
  const double batched_tps = S / (step_ms / 1e3), single_tps = S / (single_total / 1e3);
  const StepFloor fl = step_floor(c, m.weight_bytes(), ctx);
  const double floor_ms = (fl.weight_bytes + fl.cache_bytes) / bw * 1e3;
  // The most batching can give: one session at a time at its floor against the batch at its
  // floor (the batch's tokens pick most of the experts, one token only K of them).
  double singles_floor_ms = 0;
  for (int x : ctx) {
    const StepFloor f1 = step_floor(c, m.weight_bytes(), {x});
    singles_floor_ms += (f1.weight_bytes + f1.cache_bytes) / bw * 1e3;
  }
  std::printf("decode, %d sessions (shared %d-token prefix, contexts %d-%d): step %.3f ms = %.3f ms/layer, "
              "%.0f tok/s (%.0f tok/s x layer); one at a time %.0f tok/s: %.1fx; floor %.3f ms "
              "(weights %.2f GB + caches %.2f GB): %.2fx floor\n",
              S, prefix, lo, hi, step_ms, step_ms / L, batched_tps, batched_tps * L, single_tps,
              batched_tps / single_tps, floor_ms, fl.weight_bytes / 1e9, fl.cache_bytes / 1e9, step_ms / floor_ms);
  std::printf("batching gain the floors allow (every step at its floor): %.1fx\n", singles_floor_ms / floor_ms);
  out["throughput"] = {{"sessions", S}, {"shared_prefix", prefix}, {"contexts", {lo, hi}},
                       {"step_ms", step_ms}, {"step_ms_per_layer", step_ms / L}, {"step_ms_all", bms},
                       {"tokens_per_s", batched_tps}, {"tokens_per_s_x_layers", batched_tps * L},
                       {"one_at_a_time_tokens_per_s", single_tps}, {"one_at_a_time_step_ms_median", median(sms)},
                       {"batched_over_one_at_a_time", batched_tps / single_tps},
                       {"floor_ms", floor_ms}, {"floor_weight_GB", fl.weight_bytes / 1e9},
                       {"floor_cache_GB", fl.cache_bytes / 1e9}, {"x_floor", step_ms / floor_ms},
                       {"batching_gain_at_floors", singles_floor_ms / floor_ms}};
  // Where a step's time goes: steps run eagerly with device events between their phases.
  // Milliseconds per step of each phase, over kPhaseSteps steps.
  constexpr int kPhaseSteps = 4;
  auto phases_of = [&](auto&& step) {
    m.set_phase_timing(true);
    for (int k = 0; k < kPhaseSteps; ++k) step(300 + k);
    auto t = m.phase_times();
    m.set_phase_timing(false);
    for (auto& [name, ms] : t) ms /= kPhaseSteps;
    return t;
  };
  const auto batched_phases = phases_of(batched_step);
  const auto single_phases = phases_of([&](int k) { return single_step(S - 1, k); });
  std::printf("%-44s %12s %12s\n", "phase (ms per step, eager)", "batched", "batch 1");
  json phase_rows = json::array();
  double sum_b = 0, sum_1 = 0;
  for (const auto& [name, ms] : batched_phases) {
    double one = 0;
    for (const auto& [n1, ms1] : single_phases)
      if (n1 == name) one = ms1;
    std::printf("%-44s %12.3f %12.3f\n", name.c_str(), ms, one);
    sum_b += ms;
    sum_1 += one;
    phase_rows.push_back({{"phase", name}, {"batched_ms", ms}, {"batch1_ms", one}});
  }
  std::printf("%-44s %12.3f %12.3f\n", "sum", sum_b, sum_1);
  out["phases"] = phase_rows;
  for (int s : seqs) m.release_sequence(s);

  // Batch-1 decode latency at long contexts.
  json lat = json::array();
  for (int context : a.latency) {
    if (context + 64 > go.max_context) continue;
    const int seq = m.new_sequence();
    m.append_synthetic_context(seq, context, 77);
    int32_t t = 5;
    mg::GpuBatchItem it{seq, mg::TokenView(&t, 1)};
    for (int k = 0; k < 3; ++k) m.forward_view(&it, 1);
    std::vector<double> ms;
    for (int k = 0; k < std::max(steps, 20); ++k) {
      t = int32_t((k * 7919) % V);
      const auto t0 = BenchClock::now();
      m.forward_view(&it, 1);
      ms.push_back(ms_since(t0));
    }
    m.release_sequence(seq);
    const StepFloor f1 = step_floor(c, m.weight_bytes(), {context});
    const double fms = (f1.weight_bytes + f1.cache_bytes) / bw * 1e3;
    const double med = median(ms);
    std::printf("batch-1 decode at %d: %.3f ms/step = %.3f ms/layer; floor %.3f ms: %.2fx floor\n", context, med,
                med / L, fms, med / fms);
    lat.push_back({{"context", context}, {"step_ms", med}, {"step_ms_per_layer", med / L}, {"floor_ms", fms},
                   {"x_floor", med / fms}, {"all_ms", ms}});
  }
  out["batch1_latency"] = lat;
  out["graphs"] = {{"captured", m.stats().graphs_captured}, {"replays", m.stats().graph_replays},
                   {"fp8_segments", m.stats().fp8_segments}, {"fp8_fallbacks", m.stats().fp8_fallbacks}};

  // Prefix cache through the engine: K attempts of one task.
  model::EngineOptions eo;
  model::BatchEngine eng(std::move(runner), eo);
  out["prefix_ttft"] = prefix_ttft(eng, random_prompt(ttft_prompt, V, 5), a.attempts);
  return out;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("serving_bench: " + k + " needs a value");
      return argv[++i];
    };
    if (k == "--model") a.model = val();
    else if (k == "--gpu") a.gpu = true;
    else if (k == "--sessions") a.sessions = std::stoi(val());
    else if (k == "--prefix") a.prefix = std::stoi(val());
    else if (k == "--min-context") a.min_context = std::stoi(val());
    else if (k == "--max-context") a.max_context = std::stoi(val());
    else if (k == "--steps") a.steps = std::stoi(val());
    else if (k == "--ttft-prompt") a.ttft_prompt = std::stoi(val());
    else if (k == "--attempts") a.attempts = std::max(2, std::stoi(val()));
    else if (k == "--json") a.json_path = val();
    else if (k == "--latency") {
      a.latency.clear();
      std::stringstream ss(val());
      for (std::string part; std::getline(ss, part, ',');) a.latency.push_back(std::stoi(part));
    } else {
      std::fprintf(stderr, "usage: serving_bench [--model DIR] [--gpu] [--sessions S] [--prefix N] "
                           "[--min-context N] [--max-context N] [--steps N] [--latency A,B] "
                           "[--ttft-prompt N] [--attempts K] [--json FILE]\n");
      return 2;
    }
  }
  try {
    json doc;
    if (a.gpu) {
#if defined(ENVFORGE_HAVE_GPU_MODEL)
      doc["gpu"] = gpu_figures(a);
#else
      std::fprintf(stderr, "serving_bench: this build has no GPU model runner (ENVFORGE_CUDA=OFF)\n");
      return 1;
#endif
    } else {
      doc = cpu_figures(a);
    }
    if (!a.json_path.empty()) std::ofstream(a.json_path) << doc.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serving_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
