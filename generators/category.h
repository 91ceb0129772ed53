// A category of environments (trip, authored, search, code, ...) as the synth pipeline sees
// it. Each category lives in its own folder under generators/ and is listed once in
// generators/categories.cc; the pipeline (validate in the sandbox -> solver rollouts ->
// record) and the CLI know no category beyond this interface.
//
// A category declares the options it owns (the CLI offers each as --NAME and as a job file
// key, and hands the values to the category only when the job names it), whether it uses the
// job's generator model (--llm), and how to start a job. A started job builds work items:
//
//   Category search_category() {
//     return {.name = "search", .summary = "multi-hop questions over a document collection",
//             .options = {{.name = "corpus-source", .help = "folder or JSONL of documents"}},
//             .llm = GeneratorModelUse::kOptional,
//             .start = [](const JobSetup& s) { return std::make_unique<SearchJob>(s); }};
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "data/records.h"
#include "generators/python_exec.h"
#include "generators/stage_times.h"

namespace envforge::generators {

struct CategoryOption {
  enum class Type { kString, kInt, kDouble, kBool };
  std::string name;            // the flag without "--"; also its job file key
  Type type = Type::kString;
  std::string help;
  std::string default_value;   // as it would be written on the command line; empty: unset unless given
};

enum class GeneratorModelUse { kNone, kOptional, kRequired };

// The job's generator model (--llm): one backend shared by the workers, or, when `per_item` is
// set, a fresh one per work item (a replayed script starts from its first reply for every item).
struct GeneratorModel {
  agents::Backend* shared = nullptr;
  std::function<std::unique_ptr<agents::Backend>()> per_item;

  bool present() const { return shared != nullptr || static_cast<bool>(per_item); }
  // The backend for one work item; a fresh one is kept alive by `own`. Throws
  // std::logic_error when there is none.
  agents::Backend& for_item(std::unique_ptr<agents::Backend>& own) const;
};

// What a category gets when a job starts.
struct JobSetup {
  // The category's options: every declared option that was given or has a default, as typed
  // JSON (string, integer, number, boolean). Unknown names and wrong types never get here.
  nlohmann::json options = nlohmann::json::object();
  GeneratorModel llm;          // present() when the job has one
  std::string scratch_dir = "/tmp";  // for temporary world files the sandbox mounts
};

// One category's generator for one job. build() is called by several workers at once.
class CategoryJob {
 public:
  virtual ~CategoryJob() = default;
  // Part of every work item key (data::work_item_key): whatever changes the items a (seed,
  // index) gives -- the generator's code or an option such as the document source -- must
  // change it, so a resumed job never mixes items of two generators.
  virtual std::string version() const = 0;
  // Work item `index` of the job with seed `job_seed`: the environment and its tasks, each task
  // validated in the sandbox through `python` (rejected tasks recorded with their reason).
  // Adds the time of its own stages to `times`. Throws when nothing can be recorded for it.
  virtual data::WorkItem build(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                               StageTimes& times) = 0;
};

struct Category {
  std::string name;
  std::string summary;                     // one line for --help
  std::vector<CategoryOption> options;
  GeneratorModelUse llm = GeneratorModelUse::kNone;
  // Checks the options (std::invalid_argument naming the --option that is wrong) and starts a job.
  std::function<std::unique_ptr<CategoryJob>(const JobSetup&)> start;
};

// The registry (generators/categories.cc), in the order --help lists them.
const std::vector<Category>& categories();
const Category* find_category(const std::string& name);
std::string category_names();  // "trip, authored, ..."

// Starts category `name` for a job: fills in option defaults, then calls its start(). Throws
// std::invalid_argument for an unknown category, an option it does not declare or of the wrong
// type, a generator model it needs but lacks, or what its start() rejects.
std::unique_ptr<CategoryJob> start_category(const std::string& name, JobSetup setup);

}  // namespace envforge::generators
