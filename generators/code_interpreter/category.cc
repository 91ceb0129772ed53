// Category "code_interpreter": analysis questions over a generated dataset, answered by
// running Python (pandas, numpy) in the sandbox.
#include <memory>

#include "generators/category.h"
#include "generators/code_interpreter/work_item.h"

namespace envforge::generators::code_interpreter {
namespace {

class InterpreterJob : public CategoryJob {
 public:
  explicit InterpreterJob(const JobSetup& setup) { options_.scratch_dir = setup.scratch_dir; }
  std::string version() const override { return kGeneratorVersion; }
  data::WorkItem build(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                       StageTimes& times) override {
    return build_work_item(job_seed, index, python, options_, times);
  }

 private:
  InterpreterOptions options_;
};

}  // namespace

Category category() {
  return {.name = "code_interpreter",
          .summary = "data analysis: questions over a generated dataset answered with Python in the sandbox",
          .options = {},
          .llm = GeneratorModelUse::kNone,
          .start = [](const JobSetup& setup) { return std::make_unique<InterpreterJob>(setup); }};
}

}  // namespace envforge::generators::code_interpreter
