// Category "code": bugs injected into real Python code (the standard library, or a project
// given by a profile file), kept only when their tests fail before the fix and pass after.
// With --llm the generator model also rewrites functions with subtle bugs and writes the
// issue texts (generators/code/model_text.h).
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "data/content_id.h"
#include "generators/category.h"
#include "generators/code/work_item.h"

namespace envforge::generators::code {
namespace {

class CodeJob : public CategoryJob {
 public:
  explicit CodeJob(const JobSetup& setup) : llm_(setup.llm) {
    options_.scratch_dir = setup.scratch_dir;
    const std::string profile = setup.options.value("code-profile", "");
    if (!profile.empty()) {
      options_.profile = load_profile(profile);  // throws naming the file and the field
      // Another project gives other items for the same (seed, index).
      version_ += "+profile:" + data::sha256_hex(profile_json_text(profile)).substr(0, 12);
    }
    options_.level = static_cast<int>(setup.options.value("code-level", 0));
    if (options_.level < 0 || options_.level > kLevels)
      throw std::invalid_argument("--code-level must be 0 (by index) or 1.." + std::to_string(kLevels));
    if (options_.level != 0) version_ += "+level:" + std::to_string(options_.level);
    if (llm_.present()) version_ += "+llm";  // model rewrites and issue texts: other items
  }
  std::string version() const override { return version_; }
  data::WorkItem build(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                       StageTimes& times) override {
    CodeOptions o = options_;
    std::unique_ptr<agents::Backend> own;
    if (llm_.present()) o.llm = &llm_.for_item(own);
    return build_work_item(job_seed, index, python, o, times);
  }

 private:
  // The profile file's bytes, so that an edited profile is another generator.
  static std::string profile_json_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  GeneratorModel llm_;
  CodeOptions options_;
  std::string version_ = kGeneratorVersion;
};

}  // namespace

Category category() {
  using Type = CategoryOption::Type;
  return {.name = "code",
          .summary = "code repair: injected bugs in real Python code with fail-to-pass tests",
          .options = {{.name = "code-profile", .help = "repository profile file (JSON) of a local Python "
                                                       "project (default: the standard library)"},
                      {.name = "code-level", .type = Type::kInt,
                       .help = "make every task at this level (1-5; 0: the level follows the item index)",
                       .default_value = "0"}},
          .llm = GeneratorModelUse::kOptional,
          .start = [](const JobSetup& setup) { return std::make_unique<CodeJob>(setup); }};
}

}  // namespace envforge::generators::code
