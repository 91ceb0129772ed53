// One code-interpreter work item: a generated sales dataset (SQLite world, CSV for the
// agent), five analysis questions of rising difficulty, each answer computed in C++ and
// checked against a pandas reference program in the sandbox, then validated: the
// reference answer passes verify.py twice and every wrong answer fails.
#pragma once

#include <cstdint>
#include <string>

#include "data/records.h"
#include "generators/python_exec.h"
#include "generators/stage_times.h"

namespace envforge::generators::code_interpreter {

inline constexpr const char* kGeneratorName = "code_interpreter";
inline constexpr const char* kGeneratorVersion = "1.0.0";

struct InterpreterOptions {
  std::string scratch_dir = "/tmp";
};

// Throws std::runtime_error when the sandbox cannot run.
data::WorkItem build_work_item(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                               const InterpreterOptions& options, StageTimes& times);

std::string analysis_py();   // tools, verify() and the pandas reference programs

}  // namespace envforge::generators::code_interpreter
