// A search task and its validation: the reference and its other written forms pass verify.py
// in the sandbox; at least ten confusable candidates fail; verdicts repeat; each fact of the
// proof is stated in a document the tools reach; and the answer is unique against the
// structured facts (no second start fits the description, no second answer follows).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/records.h"
#include "generators/python_exec.h"
#include "generators/search/confusables.h"
#include "generators/search/question.h"

namespace envforge::generators::search {

struct SearchTask {
  Question question;
  std::string prompt;
  Evaluation evaluation;            // when the task was made
  std::vector<std::string> answers; // accepted forms, the reference first
  std::vector<Candidate> candidates;

  // What verify.py gets as `task`.
  nlohmann::json verifier_task() const;
  // The proof: every fact with the document and text that state it.
  nlohmann::json proof_json(const World& world) const;
};

// The task of a question (templated prompt; `prompt` may be replaced by a rewritten one).
SearchTask make_task(const World& world, const Question& q);

struct SearchValidationOptions {
  size_t min_candidates = 10;  // fewer failing confusable candidates: not usable
  int search_k = 10;           // a proof document must be among the first k hits
};

struct SearchValidation {
  std::vector<data::ValidationRecord> records;
  bool usable = false;
  std::string reject_reason;   // the first check that went wrong
  nlohmann::json uniqueness;   // what the structured facts said
};

// `python` holds tools.py, verify.py and probe.py over the world's database.
SearchValidation validate_task(PythonExecutor& python, const World& world, const SearchTask& task,
                               const SearchValidationOptions& options = {});

}  // namespace envforge::generators::search
