// A scripted solver for synth rollouts (tests and benchmarks): replies replayed from a file,
// where a reply may refer to the task at hand, so that one file can attempt every task of
// a job. The file is either one script of the scripted backend (agents/scripted_backend.h),
// replayed from its start by every attempt, or
//   {"attempts": [SCRIPT, SCRIPT, ...]}      attempt i replays attempts[i % count]
// Inside a script, a JSON string that is exactly "{{PATH}}" is replaced by the value at PATH
// in the task's context, and "{{PATH}}" inside longer text by that value's text:
//   reference[/pointer]   the task's reference solution (or a part of it, JSON-pointer style)
//   task[/pointer]        the task as its verifier receives it
//   prompt, difficulty, attempt
// e.g. {"name": "submit_answer", "arguments": {"answer": "{{reference}}"}} replays the
// reference answer, which the task's verifier then judges like any other answer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"

namespace envforge::generators {

class ScriptedSolver {
 public:
  // Reads and checks the file (JSON, script shape, placeholder names); throws
  // agents::BackendError(kConfig) naming the file and the problem.
  static ScriptedSolver load(const std::string& path);

  // The backend of one attempt. A placeholder that has no value for this context gives a
  // backend whose calls fail with a BackendError saying which, so the attempt ends with
  // that error in its trajectory instead of replaying a wrong script.
  std::unique_ptr<agents::Backend> backend_for(const nlohmann::json& context, int attempt) const;

  const std::string& path() const { return path_; }
  size_t scripts() const { return scripts_.size(); }

 private:
  std::string path_;
  std::vector<nlohmann::json> scripts_;
};

// Replaces the placeholders of `value` from `context`; `missing` collects the paths that
// have no value there (replaced by null). Exposed for tests.
nlohmann::json fill_placeholders(const nlohmann::json& value, const nlohmann::json& context,
                                 std::vector<std::string>& missing);

}  // namespace envforge::generators
