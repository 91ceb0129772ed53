// One trip work item end to end: world -> task ladder (solved) -> negatives ->
// validation in one warm sandboxed interpreter -> the records to write.
#pragma once

#include <cstdint>
#include <string>

#include "data/records.h"
#include "generators/python_exec.h"
#include "generators/stage_times.h"
#include "generators/trip/validate.h"

namespace envforge::generators::trip {

struct WorkItemOptions {
  std::string scratch_dir = "/tmp";   // where the world database file lives while validating
  ValidationOptions validation;
};

// The seed of environment `index` of a job: a pure function of both.
uint64_t environment_seed(uint64_t job_seed, uint64_t index);

// Builds the whole work item (key filled, run_id left empty); times its stages "world",
// "solve" and "validate". Throws
// std::runtime_error when the Python interpreter cannot be started.
data::WorkItem build_work_item(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                               const WorkItemOptions& options, StageTimes& times);

}  // namespace envforge::generators::trip
