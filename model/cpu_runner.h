// SequenceRunner on the CPU forward pass: one paged KvCache per live sequence.
#pragma once

#include <optional>
#include <vector>

#include "model/kv_cache.h"
#include "model/sequence_runner.h"
#include "model/transformer.h"

namespace envforge::model {

struct CpuRunnerOptions {
  int max_sequences = 256;
  int page_size = KvCache::kDefaultPageSize;
  int max_step_tokens = 256;
  bool force_dense = false;
};

class CpuRunner : public SequenceRunner {
 public:
  // `model` must outlive the runner.
  explicit CpuRunner(Model& model, CpuRunnerOptions options = {});

  const ModelConfig& config() const override { return model_.config(); }
  std::string name() const override { return "cpu"; }
  int max_sequences() const override { return options_.max_sequences; }
  int max_context() const override { return model_.config().max_position_embeddings; }
  int page_size() const override { return options_.page_size; }
  int max_step_tokens() const override { return options_.max_step_tokens; }
  long free_pages() const override { return -1; }

  int new_sequence(const std::vector<PageRef>& prefix = {}) override;
  void release_sequence(int seq) override;
  int length(int seq) const override;
  std::vector<PageRef> pages(int seq, int n) override;
  std::span<const float> forward(std::span<const RunnerItem> items) override;

 private:
  KvCache& live(int seq, const char* what);
  const KvCache& live(int seq, const char* what) const;

  Model& model_;
  CpuRunnerOptions options_;
  std::vector<std::optional<KvCache>> seqs_;
  std::vector<float> logits_;  // of the last forward
};

}  // namespace envforge::model
