// Runs a task's verify.py on one answer and turns the verdict into a validation record. Both
// the trip and the authored categories validate this way, so both store the same fields for the
// same outcome.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "data/records.h"
#include "generators/python_exec.h"

namespace envforge::generators {

struct JudgedAnswer {
  data::ValidationRecord record;   // verdict pass / fail / error, score, reason, digests, times
  std::string constraint;          // the constraint verify.py named, if it named one
};

JudgedAnswer judge_answer(PythonExecutor& py, const nlohmann::json& task, const nlohmann::json& answer,
                          const std::string& check, int attempt, bool expect_pass);

// The digest validations store for a JSON value: a string by its bytes, anything else by its
// canonical content id.
std::string answer_digest(const nlohmann::json& value);

}  // namespace envforge::generators
