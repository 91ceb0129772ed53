// One search work item: a world's documents become world.db (FTS5), its ladder becomes tasks,
// each validated in one warm sandboxed interpreter holding the real tools.
#pragma once

#include <cstdint>
#include <string>

#include "agents/backend.h"
#include "data/records.h"
#include "generators/python_exec.h"
#include "generators/search/validate.h"
#include "generators/search/world.h"
#include "generators/stage_times.h"

namespace envforge::generators::search {

inline constexpr const char* kGeneratorName = "search";
inline constexpr const char* kGeneratorVersion = "search-1";

struct WorkItemOptions {
  std::string scratch_dir = "/tmp";
  int tasks_per_level = 2;
  SearchValidationOptions validation;
  agents::Backend* rewriter = nullptr;  // rewrites templated questions (--llm), when set
};

// The system prompt a solver of a search environment gets.
std::string system_prompt();

// Builds environment and tasks of `world` (key left to the caller). Stages: "questions",
// "validate" (and "rewrite" with a rewriter). Throws std::runtime_error when the sandboxed
// interpreter cannot start or the world yields no question at all.
data::WorkItem build_work_item(const World& world, uint64_t env_seed, PythonExecutorFactory& python,
                               const WorkItemOptions& options, StageTimes& times);

}  // namespace envforge::generators::search
