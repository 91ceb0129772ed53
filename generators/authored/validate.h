// Validation of an authored task, as procedural tasks are validated: every tool answers
// its example calls, the reference passes verify.py, each of the agent's wrong answers and
// each of envforge's own generic negatives (empty, malformed JSON, null, wrong type) fails,
// and a second run in a fresh interpreter gives the same verdicts. A verifier that accepts
// everything is rejected by the negatives.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/records.h"
#include "generators/authored/submission.h"
#include "generators/python_exec.h"

namespace envforge::generators::authored {

struct AuthoredValidation {
  std::vector<data::ValidationRecord> records;
  bool usable = false;
  std::string reject_reason;  // the first check that went wrong
};

struct GenericNegative {
  std::string kind;  // "empty", "malformed_json", "null", "wrong_type", ...
  nlohmann::json answer;
};

// envforge's own wrong answers for a task, leaving out any that equals the reference.
std::vector<GenericNegative> generic_negatives(const nlohmann::json& answer_schema, const nlohmann::json& reference);

// `world_db_path` is a host file holding the submission's world.db. Throws
// std::runtime_error when no interpreter can be started at all.
AuthoredValidation validate_submission(PythonExecutorFactory& python, const Submission& submission,
                                       const std::string& world_db_path);

}  // namespace envforge::generators::authored
