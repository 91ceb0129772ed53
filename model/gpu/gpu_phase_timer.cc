#include "model/gpu/gpu_phase_timer.h"

#include <algorithm>

#include "engine/cuda/cuda_check.h"

namespace envforge::model::gpu {

PhaseTimer::~PhaseTimer() {
  for (cudaEvent_t e : pool_) cudaEventDestroy(e);
}

void PhaseTimer::mark(const char* name, cudaStream_t stream) {
  if (used_ == pool_.size()) {
    cudaEvent_t e = nullptr;
    ENVFORGE_CUDA_CHECK(cudaEventCreate(&e));
    pool_.push_back(e);
  }
  ENVFORGE_CUDA_CHECK(cudaEventRecord(pool_[used_++], stream));
  names_.emplace_back(name ? name : "");
}

void PhaseTimer::collect() {
  for (size_t i = 0; i + 1 < used_; ++i) {
    if (names_[i].empty()) continue;
    float ms = 0;
    ENVFORGE_CUDA_CHECK(cudaEventElapsedTime(&ms, pool_[i], pool_[i + 1]));
    auto it = std::find_if(totals_.begin(), totals_.end(), [&](const auto& t) { return t.first == names_[i]; });
    if (it == totals_.end()) it = totals_.insert(it, {names_[i], 0.0});
    it->second += ms;
  }
  used_ = 0;
  names_.clear();
}

}  // namespace envforge::model::gpu
