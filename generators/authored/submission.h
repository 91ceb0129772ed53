// What the generator agent submits for one round, read from submit's arguments and the
// workspace files, with every structural check done before envforge accepts it (a refused
// submission goes back to the model as a tool error, so it can fix it).
#pragma once

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "generators/authored/workspace.h"

namespace envforge::generators::authored {

struct WrongAnswer {
  nlohmann::json answer;
  std::string why;  // the agent's reason it must fail
};

struct ToolExample {
  std::string tool;
  nlohmann::json arguments;
};

struct Submission {
  std::string prompt;
  nlohmann::json answer_schema;
  nlohmann::json reference;
  nlohmann::json task_params = nlohmann::json::object();
  std::vector<WrongAnswer> wrong_answers;
  std::vector<ToolExample> tool_examples;
  std::string solver_system_prompt;  // empty: envforge's default
  // From the workspace.
  std::string world_db;
  std::string tools_py;
  std::string tools_json;
  nlohmann::json tool_schemas = nlohmann::json::array();
  std::string verify_py;

  // What verify(answer, world, task) receives as `task`.
  nlohmann::json task_object() const;
};

struct SubmissionRules {
  std::size_t min_wrong_answers = 3;
  std::size_t max_wrong_answers = 20;
  std::size_t max_prompt_chars = 8000;
  std::size_t max_tools = 32;
};

// The JSON Schema of submit's arguments.
nlohmann::json submit_parameters();

// A Submission, or why it is refused. `previous` (hardening rounds): the environment files
// must be unchanged from it and the task must differ from it.
std::variant<Submission, std::string> parse_submission(const nlohmann::json& arguments, const Workspace& workspace,
                                                       const SubmissionRules& rules,
                                                       const Submission* previous = nullptr);

}  // namespace envforge::generators::authored
