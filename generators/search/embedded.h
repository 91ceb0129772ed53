// The search environment's Python files, compiled in from generators/search/py.
#pragma once

#include <string_view>

namespace envforge::generators::search {

std::string_view tools_py();           // tool_schemas.json inlined as SCHEMAS
std::string_view tool_schemas_json();  // OpenAI function schemas, a JSON list
std::string_view verify_py();
std::string_view probe_py();           // validation only, never given to a solver

}  // namespace envforge::generators::search
