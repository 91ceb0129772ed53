// The code environments' Python files, compiled in from generators/code/py.
#pragma once

#include <string_view>

namespace envforge::generators::code {

std::string_view py_codebox();      // shared: diffs, test runs in forks, verification
std::string_view py_mutate();       // AST mutations and mutant selection
std::string_view py_gen();          // one task: bugs, workspace, issue, negatives
std::string_view py_verify_tail();  // verify() over codebox
std::string_view py_tools_tail();   // the agent's tools over codebox
std::string_view py_analysis();     // code-interpreter: data, questions, reference programs

}  // namespace envforge::generators::code
