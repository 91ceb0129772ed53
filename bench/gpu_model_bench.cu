// Decode steps of the whole GPU model on the bundled tiny checkpoints: batches of sequences of
// different lengths past index_topk (so every step runs the indexer, top-k and sparse
// attention), each step replayed from a captured CUDA graph against the same step launched
// kernel by kernel, in the same run. A step's time is the wall time of GpuModel::forward for one
// token per sequence: staging the inputs, the launches or the graph replay, the logits copy
// back and the synchronization. Tiny models make the step launch-bound: this measures what
// the graphs save, not the kernels.
//
//   gpu_model_bench [--source DIR] [--json out.json] [--steps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "model/gpu/gpu_model.h"

namespace mg = envforge::model::gpu;
using nlohmann::json;

namespace {

struct Run {
  double median_ms = 0, p10_ms = 0, p90_ms = 0;
  long replays = 0;
};

Run decode(const std::string& dir, bool graphs, int batch, int steps) {
  mg::GpuModelOptions opt;
  opt.max_seqs = batch;
  opt.cuda_graphs = graphs;
  auto m = mg::GpuModel::load(dir, opt);
  const int V = m->config().vocab_size;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> tok(0, V - 1);
  std::vector<int> seqs;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<mg::GpuBatchItem> items;
  for (int b = 0; b < batch; ++b) {
    // lengths 66..73: past every tiny top-k, and the whole run stays inside one 128-row bucket
    prompts.emplace_back(66 + b % 8);
    for (int32_t& t : prompts.back()) t = tok(rng);
    seqs.push_back(m->new_sequence());
  }
  for (int b = 0; b < batch; ++b) items.push_back({seqs[b], prompts[b]});
  m->forward(items);
  std::vector<int32_t> next(batch);
  std::vector<double> ms;
  const int warmup = 5;
  for (int s = 0; s < warmup + steps; ++s) {
    for (int b = 0; b < batch; ++b) {
      next[b] = int32_t((s * 31 + b * 7) % V);
      items[b] = {seqs[b], mg::TokenView(&next[b], 1)};
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> logits = m->forward(items);
    const auto t1 = std::chrono::steady_clock::now();
    if (logits.size() != size_t(batch) * V) throw std::runtime_error("wrong logits size");
    if (s >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  Run r;
  r.median_ms = ms[ms.size() / 2];
  r.p10_ms = ms[ms.size() / 10];
  r.p90_ms = ms[ms.size() * 9 / 10];
  r.replays = m->stats().graph_replays;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string source = ".", json_path;
  int steps = 40;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--source" && i + 1 < argc) {
      source = argv[++i];
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--steps" && i + 1 < argc) {
      steps = std::max(10, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--source DIR] [--json out.json] [--steps N]\n", argv[0]);
      return 2;
    }
  }
  json rows = json::array();
  std::printf("%-15s %5s | %10s %10s | %10s %10s | %7s\n", "checkpoint", "batch", "eager ms",
              "p90", "graph ms", "p90", "speedup");
  try {
    for (const char* ckpt : {"tiny-dense-f32", "tiny-moe-bf16", "tiny-moe-fp8"}) {
      const std::string dir = source + "/model/checkpoints/" + ckpt;
      for (int batch : {1, 4, 16}) {
        const Run eager = decode(dir, false, batch, steps);
        const Run graph = decode(dir, true, batch, steps);
        const double speedup = eager.median_ms / graph.median_ms;
        std::printf("%-15s %5d | %10.4f %10.4f | %10.4f %10.4f | %6.2fx\n", ckpt, batch,
                    eager.median_ms, eager.p90_ms, graph.median_ms, graph.p90_ms, speedup);
        rows.push_back({{"checkpoint", ckpt}, {"batch", batch}, {"steps", steps},
                        {"eager_median_ms", eager.median_ms}, {"eager_p90_ms", eager.p90_ms},
                        {"graph_median_ms", graph.median_ms}, {"graph_p90_ms", graph.p90_ms},
                        {"graph_replays", graph.replays}, {"graph_speedup", speedup},
                        {"graph_tokens_per_s", batch * 1000.0 / graph.median_ms}});
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_model_bench: %s\n", e.what());
    return 1;
  }
  if (!json_path.empty()) std::ofstream(json_path) << json{{"decode", rows}}.dump(2) << "\n";
  return 0;
}
