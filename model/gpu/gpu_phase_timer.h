// Where a GPU step's time goes: device events recorded between the phases of a step (the
// attention's projections, the indexer, each MoE stage, the head, the copy of the logits),
// summed per phase name over the steps run while timing is on. Steps are then run eagerly
// (events cannot be read back per phase from a replayed graph), so phases carry their launch
// gaps as well; at batch sizes where the device is the bottleneck those are small.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <utility>
#include <vector>

#include "model/gpu/gpu_model.h"

namespace envforge::model::gpu {

class PhaseTimer {
 public:
  PhaseTimer() = default;
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  ~PhaseTimer();
  // Starts phase `name` on `stream` (ending the previous one); nullptr ends the last phase.
  void mark(const char* name, cudaStream_t stream);
  // After the stream has finished the step: adds its phases to the totals.
  void collect();
  // Milliseconds per phase, in the order phases were first seen.
  const std::vector<std::pair<std::string, double>>& totals() const { return totals_; }

 private:
  std::vector<cudaEvent_t> pool_;
  std::vector<std::string> names_;  // names_[i] runs from event i to event i + 1
  size_t used_ = 0;
  std::vector<std::pair<std::string, double>> totals_;  // a step has a dozen phases
};

}  // namespace envforge::model::gpu
