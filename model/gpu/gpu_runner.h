// SequenceRunner on the GPU model runner, so that the batch engine (continuous batching,
// prefix cache) drives the GPU the way it drives the CPU.
#pragma once

#include <memory>
#include <string>

#include "model/gpu/gpu_model.h"
#include "model/sequence_runner.h"

namespace envforge::model::gpu {

// Whether a CUDA device can be used (false without a driver or device).
bool gpu_available();

class GpuRunner : public SequenceRunner {
 public:
  explicit GpuRunner(std::unique_ptr<GpuModel> model);
  static std::unique_ptr<GpuRunner> load(const std::string& dir, const GpuModelOptions& opt = {});

  const ModelConfig& config() const override { return model_->config(); }
  std::string name() const override { return "gpu"; }
  int max_sequences() const override { return model_->options().max_seqs; }
  int max_context() const override { return model_->options().max_context; }
  int page_size() const override { return model_->options().page_size; }
  int max_step_tokens() const override { return model_->options().max_step_tokens; }
  long free_pages() const override { return static_cast<long>(model_->free_pages()); }

  int new_sequence(const std::vector<PageRef>& prefix = {}) override;
  void release_sequence(int seq) override { model_->release_sequence(seq); }
  int length(int seq) const override { return model_->length(seq); }
  std::vector<PageRef> pages(int seq, int n) override;
  std::span<const float> forward(std::span<const RunnerItem> items) override;

  GpuModel& model() { return *model_; }

 private:
  std::unique_ptr<GpuModel> model_;
};

}  // namespace envforge::model::gpu
