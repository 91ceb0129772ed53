// Category "trip": procedural trip-planning worlds with a five-level task ladder.
#include <memory>

#include "generators/category.h"
#include "generators/trip/work_item.h"
#include "generators/trip/world.h"

namespace envforge::generators::trip {
namespace {

class TripJob : public CategoryJob {
 public:
  explicit TripJob(const JobSetup& setup) { options_.scratch_dir = setup.scratch_dir; }
  std::string version() const override { return kGeneratorVersion; }
  data::WorkItem build(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                       StageTimes& times) override {
    return build_work_item(job_seed, index, python, options_, times);
  }

 private:
  WorkItemOptions options_;
};

}  // namespace

Category category() {
  return {.name = "trip",
          .summary = "trip planning: itineraries over a generated world of cities, hotels and transport",
          .options = {},
          .llm = GeneratorModelUse::kNone,
          .start = [](const JobSetup& setup) { return std::make_unique<TripJob>(setup); }};
}

}  // namespace envforge::generators::trip
