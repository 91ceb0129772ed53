// The DeepSeek-V3.2 forward pass on one CUDA GPU: weights in device memory, the latent KV
// cache and the indexer's FP8 key cache in paged device blocks shared by all sequences, DSA
// (indexer, top-k, sparse MLA) once a query sees more than index_topk rows and dense MLA
// before, batched prefill and decode of sequences of different lengths, and decode steps
// replayed from CUDA graphs captured once per batch shape.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"

namespace envforge::model::gpu {

struct GpuModelOptions {
  int max_seqs = 8;           // sequences alive at once
  int max_context = 0;        // tokens per sequence; 0 = max_position_embeddings
  int page_size = 64;         // tokens per cache block, a multiple of 32
  int num_pages = 0;          // cache blocks per layer; 0 = enough for max_seqs full contexts
  int max_step_tokens = 256;  // tokens per forward step; longer prompts run in chunks
  bool cuda_graphs = true;    // replay decode steps (one token per sequence) from graphs
  bool force_dense = false;   // dense attention even past index_topk
};

struct GpuBatchItem {
  int seq;                          // from new_sequence()
  std::span<const int32_t> tokens;  // appended to the sequence
};

struct GpuModelStats {
  long steps = 0;            // forward steps run (a chunked prompt counts each chunk)
  long sparse_steps = 0;     // steps that ran the indexer and sparse attention
  long graph_replays = 0;    // decode steps launched from a captured graph
  int graphs_captured = 0;   // distinct decode shapes captured
};

class GpuModel {
 public:
  // Loads config.json and the safetensors of `dir` and uploads the weights to the current
  // device. Throws ConfigError / engine::CheckpointError for a bad checkpoint,
  // std::invalid_argument for options or shapes the GPU kernels cannot run, and
  // std::runtime_error for CUDA failures.
  static std::unique_ptr<GpuModel> load(const std::string& dir, const GpuModelOptions& opt = {});
  ~GpuModel();

  const ModelConfig& config() const;
  const GpuModelOptions& options() const;
  // A new empty sequence; throws std::runtime_error when max_seqs are alive.
  int new_sequence();
  // Frees the sequence and its cache blocks.
  void release_sequence(int seq);
  int length(int seq) const;

  // Appends every item's tokens to its sequence and returns logits [rows][vocab]: one row per
  // item (its last token), or with all_logits one row per token in item order. Throws
  // std::invalid_argument (and changes nothing) for an unknown or repeated sequence, an empty
  // item, a token outside the vocabulary, or a context beyond max_context / the free blocks.
  std::vector<float> forward(std::span<const GpuBatchItem> batch, bool all_logits = false);

  const GpuModelStats& stats() const;
  size_t weight_bytes() const;
  size_t cache_bytes() const;

  struct Impl;

 private:
  explicit GpuModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace envforge::model::gpu
