// One code work item end to end: a repository slice from a profile -> bugs injected and
// kept by their tests (in the sandbox) -> the workspace world, the issue, the reference
// diff and the wrong diffs -> validation of the verifier in a sandboxed interpreter.
// One environment per work item: its world is the buggy repository; the level (1..5)
// follows the index, so a job's items climb the ladder.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "data/records.h"
#include "generators/code/profile.h"
#include "generators/python_exec.h"
#include "generators/stage_times.h"

namespace envforge::agents {
class Backend;
}

namespace envforge::generators::code {

inline constexpr const char* kGeneratorName = "code";
inline constexpr const char* kGeneratorVersion = "1.0.0";
inline constexpr int kLevels = 5;

struct CodeOptions {
  std::string scratch_dir = "/tmp";
  std::optional<RepoProfile> profile;   // none: the standard library (stdlib_profile())
  int max_mutants = 24;                 // mutants tried per task before giving up
  int level = 0;                        // 0: 1 + index % kLevels
  std::chrono::milliseconds generate_timeout{300000};
  // The generator model (--llm): rewrites of functions with a subtle bug tried before the
  // AST mutants, and the issue text. Not owned; none: neither.
  agents::Backend* llm = nullptr;
};

// The level of work item `index`.
int level_of(uint64_t index, const CodeOptions& options);

// Builds the whole work item (key filled, run_id left empty). Throws std::runtime_error
// when the sandbox cannot run or no usable bug was found for the item.
data::WorkItem build_work_item(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                               const CodeOptions& options, StageTimes& times);

// What one generation produced, for tests and the bench (generation without validation).
struct GeneratedTask {
  nlohmann::json spec;   // what went into the generator
  nlohmann::json task;   // gen.make_task's result
  double llm_ms = 0;     // time spent waiting for the generator model
  double baseline_ms = 0;  // time spent running clean-tree baselines (once per module and process)
};
GeneratedTask generate_task(uint64_t seed, int level, const CodeOptions& options);

// The world database and the verify() task argument of a generated task.
std::string code_world_db(const GeneratedTask& g, const RepoProfile& profile);
nlohmann::json verify_task_json(const GeneratedTask& g);

// The generator's verdict on a given mutant of one module (its tests run twice on the clean
// tree and twice on the mutant): {"keep", "why", "fail_to_pass", "pass_to_pass", ...}.
// `functions` are the mutated functions' qualified names. For tests and hostile mutants.
nlohmann::json judge_mutant(const RepoProfile& profile, const ProfileModule& module, const std::string& mutant_source,
                            const std::vector<std::string>& functions);

// The same for a model's rewrite of one function (the reply as the model gave it): refused
// with {"keep": false, "parsed": false, "why"} when the text is no usable rewrite, else
// judged like any mutant ("parsed": true).
nlohmann::json judge_rewrite(const RepoProfile& profile, const ProfileModule& module, const std::string& function,
                             const std::string& reply);

std::string verify_py();   // the code verifier (self-contained)
std::string tools_py();    // the code tools (self-contained)
nlohmann::json tool_schemas();

}  // namespace envforge::generators::code
