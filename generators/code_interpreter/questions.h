// The question ladder of a code-interpreter environment: five kinds of rising difficulty
// (one aggregate; a join with a month filter and missing values; outlier removal by the
// interquartile range; a least-squares trend over dates; date differences per customer).
// Each answer is computed here, in C++, and again in the sandbox by a pandas program;
// the two must agree before a task is kept. Each kind also has a plausible wrong path.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "generators/code_interpreter/dataset.h"

namespace envforge::generators::code_interpreter {

struct Question {
  int level = 1;
  std::string kind;          // a key of analysis.py's PROGRAMS
  nlohmann::json params;     // what the pandas program reads as P
  std::string prompt;
  double expected = 0;       // computed here
  double tolerance = 0;      // stated in the prompt
  double wrong_path = 0;     // a plausible mistake (e.g. outliers kept)
  std::string wrong_path_kind;
};

// One question per level 1..5; a level whose draw has no data is drawn again (bounded).
std::vector<Question> make_questions(const Dataset& d, uint64_t seed);

double tolerance_for(double expected);

}  // namespace envforge::generators::code_interpreter
