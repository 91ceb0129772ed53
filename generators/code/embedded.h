// The code environments' Python files, compiled in from generators/code/py.
#pragma once

#include <string_view>

namespace envforge::generators::code {

std::string_view codebox_py();      // shared: world files, test runs in forks, verification
std::string_view diffs_py();        // shared: unified diffs (joined after codebox_py)
std::string_view mutate_py();       // AST mutations and mutant selection
std::string_view gen_py();          // one task: bugs, workspace, issue, negatives
std::string_view verify_tail_py();  // verify() over codebox
std::string_view tools_tail_py();   // the agent's tools over codebox
std::string_view analysis_py();     // code-interpreter: data, questions, reference programs

}  // namespace envforge::generators::code
