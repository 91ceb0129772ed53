// The DeepSeek-V3.2 forward pass on one CUDA GPU: weights in device memory, the latent KV
// cache and the indexer's FP8 key cache in paged device blocks shared by all sequences, DSA
// (indexer, top-k, sparse MLA) once a query sees more than index_topk rows and dense MLA
// before, batched prefill and decode of sequences of different lengths, and decode steps
// replayed from CUDA graphs captured once per batch shape.
#pragma once

#include <cstdint>
#include <memory>
#include <cstddef>
#include <string>
#include <utility>
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
  // FP8-stored linear layers run FP8 GEMMs (cuBLASLt, activations quantized per token in groups
  // of 128 as DeepSeek's inference does); false converts them to bf16 on load, the path that
  // matches the CPU engine (float activations) most closely.
  bool fp8_gemm = true;
};

// A read-only view of token ids (this header is also read by C++17 CUDA sources: no std::span).
class TokenView {
 public:
  TokenView() = default;
  TokenView(const int32_t* data, size_t size) : data_(data), size_(size) {}
  TokenView(const std::vector<int32_t>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT
  const int32_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int32_t operator[](size_t i) const { return data_[i]; }
  const int32_t* begin() const { return data_; }
  const int32_t* end() const { return data_ + size_; }

 private:
  const int32_t* data_ = nullptr;
  size_t size_ = 0;
};

// Logits rows in host memory owned by the model: a span, for the C++17 (CUDA) files that
// include this header.
struct HostLogits {
  const float* data = nullptr;
  size_t size = 0;  // floats: rows x vocabulary
};

struct GpuBatchItem {
  int seq;           // from new_sequence()
  TokenView tokens;  // appended to the sequence
};

struct GpuModelStats {
  long steps = 0;            // forward steps run (a chunked prompt counts each chunk)
  long sparse_steps = 0;     // steps that ran the indexer and sparse attention
  long graph_replays = 0;    // decode steps launched from a captured graph
  int graphs_captured = 0;   // distinct decode shapes captured
  int fp8_segments = 0;      // weight segments run by FP8 GEMMs
  int fp8_fallbacks = 0;     // FP8 segments converted to bf16 (no cuBLASLt FP8 algorithm)
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
  // A new sequence that starts with cache blocks other sequences filled (full blocks, from
  // pages(); see retain_page): its length is prefix_pages.size() * page_size and it shares
  // them. Throws std::invalid_argument for a block that is not in use or too many blocks.
  int new_sequence(const std::vector<int32_t>& prefix_pages);
  // Lets go of the sequence's cache blocks (each is free once no holder is left).
  void release_sequence(int seq);
  int length(int seq) const;
  // The cache blocks of a live sequence, in order.
  std::vector<int32_t> pages(int seq) const;
  // Blocks are reference-counted: a sequence holds each of its blocks once; a prefix cache
  // that keeps a block after its sequence ends holds it as well.
  void retain_page(int32_t page);
  void release_page(int32_t page);
  size_t free_pages() const;
  // For benchmarks: appends n tokens of random cache rows to a sequence (unit-variance
  // latents, FP8 index keys of random vectors) in every layer, so that decoding at a long
  // context is measured without prefilling it. Throws std::invalid_argument like forward().
  void append_synthetic_context(int seq, int n, uint32_t seed);

  // Appends every item's tokens to its sequence and returns logits [rows][vocab]: one row per
  // item (its last token), or with all_logits one row per token in item order. Throws
  // std::invalid_argument (and changes nothing) for an unknown or repeated sequence, an empty
  // item, a token outside the vocabulary, or a context beyond max_context / the free blocks.
  std::vector<float> forward(const GpuBatchItem* items, size_t n, bool all_logits = false);
  std::vector<float> forward(const std::vector<GpuBatchItem>& batch, bool all_logits = false) {
    return forward(batch.data(), batch.size(), all_logits);
  }
  // forward() without the copy: the logits stay in pinned host memory the model owns (the
  // device writes them there at full transfer speed), valid until the next forward call.
  HostLogits forward_view(const GpuBatchItem* items, size_t n, bool all_logits = false);

  // Profiling: while on, every step times its phases with device events (and runs eagerly,
  // without graphs); phase_times() are each phase's device milliseconds summed since it was
  // turned on, in the order the phases first ran.
  void set_phase_timing(bool on);
  std::vector<std::pair<std::string, double>> phase_times() const;

  const GpuModelStats& stats() const;
  size_t weight_bytes() const;
  size_t cache_bytes() const;

  struct Impl;

 private:
  explicit GpuModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace envforge::model::gpu
