#include "model/gpu/gpu_phase_timer.h"

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
    auto [it, added] = totals_.try_emplace(names_[i]);
    if (added) order_.push_back(names_[i]);
    it->second.ms += ms;
    ++it->second.count;
  }
  used_ = 0;
  names_.clear();
}

std::vector<std::pair<std::string, PhaseTime>> PhaseTimer::totals() const {
  std::vector<std::pair<std::string, PhaseTime>> out;
  for (const std::string& n : order_) out.emplace_back(n, totals_.at(n));
  return out;
}

}  // namespace envforge::model::gpu
