// Where a work item's time went: named stages ("world", "validate", ...) in milliseconds,
// summed over work items and workers. A category names its own stages; the pipeline adds
// "record" (and reports rollouts apart).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace envforge::generators {

class StageTimes {
 public:
  void add(const std::string& stage, double ms) {
    for (auto& [name, total] : stages_)
      if (name == stage) {
        total += ms;
        return;
      }
    stages_.emplace_back(stage, ms);
  }
  // 0 for a stage that never ran.
  double ms(const std::string& stage) const {
    for (const auto& [name, total] : stages_)
      if (name == stage) return total;
    return 0;
  }
  double total_ms() const {
    double sum = 0;
    for (const auto& s : stages_) sum += s.second;
    return sum;
  }
  StageTimes& operator+=(const StageTimes& other) {
    for (const auto& [name, ms] : other.stages_) add(name, ms);
    return *this;
  }
  // In the order the stages first ran.
  const std::vector<std::pair<std::string, double>>& stages() const { return stages_; }

 private:
  std::vector<std::pair<std::string, double>> stages_;
};

}  // namespace envforge::generators
