// A solver written against the synthetic encyclopedia that works only through the
// environment's tools in the sandbox (search, find): it identifies a described entity by
// checking each constraint in the documents, then follows the chain sentence by sentence. It
// reads the question's structure and the encyclopedia's phrasings, never the world's facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "generators/python_exec.h"
#include "generators/search/question.h"

namespace envforge::generators::search::testing {

class ToolSolver {
 public:
  // `schema` gives predicates (nouns, types) and the names the question text contains.
  ToolSolver(PythonExecutor& python, const World& schema) : py_(python), schema_(schema) {}

  // The answer to a question with a described start and hops, or nullopt with why().
  std::optional<std::string> answer(const Question& q);
  const std::string& why() const { return why_; }
  int tool_calls() const { return calls_; }

 private:
  nlohmann::json tool(const std::string& name, const nlohmann::json& args);
  std::vector<std::string> lines_about(const std::string& name, const std::string& hint);
  std::vector<std::string> candidates(const Question& q);
  bool is_a(const std::string& title, const std::string& type);
  bool holds(const std::string& name, const Constraint& c);
  std::optional<std::string> follow(const std::string& name, const std::string& predicate);

  PythonExecutor& py_;
  const World& schema_;
  std::string why_;
  int calls_ = 0;
};

}  // namespace envforge::generators::search::testing
