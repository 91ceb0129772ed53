// Category "authored": environments built by the generator agent (--llm), validated like the
// procedural ones. Owns --description, --description-file and --hardening-rounds.
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "generators/authored/authored_item.h"
#include "generators/category.h"

namespace envforge::generators::authored {
namespace {

std::string read_description_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("--description-file: cannot read \"" + path + "\"");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

AuthoredOptions authored_options(const JobSetup& setup) {
  const auto& opts = setup.options;
  AuthoredOptions o;
  o.scratch_dir = setup.scratch_dir;
  if (opts.contains("description") && opts.contains("description-file"))
    throw std::invalid_argument("give the category description once: --description or --description-file");
  if (opts.contains("description")) o.description = opts["description"].get<std::string>();
  if (opts.contains("description-file")) o.description = read_description_file(opts["description-file"]);
  const int64_t rounds = opts.value("hardening-rounds", int64_t{1});
  if (rounds < 0 || rounds > 100)
    throw std::invalid_argument("--hardening-rounds must be 0..100, got " + std::to_string(rounds));
  o.hardening_rounds = static_cast<int>(rounds);
  return o;
}

class AuthoredJob : public CategoryJob {
 public:
  explicit AuthoredJob(const JobSetup& setup) : options_(authored_options(setup)), llm_(setup.llm) {}
  std::string version() const override { return kGeneratorVersion; }
  data::WorkItem build(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                       StageTimes& times) override {
    std::unique_ptr<agents::Backend> own;
    return build_work_item(llm_.for_item(own), job_seed, index, options_, python, times);
  }

 private:
  AuthoredOptions options_;
  GeneratorModel llm_;
};

}  // namespace

Category category() {
  using Type = CategoryOption::Type;
  return {.name = "authored",
          .summary = "LLM-authored environments: the generator agent (--llm) builds world, tools and tasks",
          .options = {{.name = "description",
                       .type = Type::kString,
                       .help = "category description given to the generator agent (default: the generator's own)",
                       .default_value = ""},
                      {.name = "description-file",
                       .type = Type::kString,
                       .help = "read the category description from this file",
                       .default_value = ""},
                      {.name = "hardening-rounds",
                       .type = Type::kInt,
                       .help = "\"make it harder\" rounds after the first task",
                       .default_value = "1"}},
          .llm = GeneratorModelUse::kRequired,
          .start = [](const JobSetup& setup) { return std::make_unique<AuthoredJob>(setup); }};
}

}  // namespace envforge::generators::authored
