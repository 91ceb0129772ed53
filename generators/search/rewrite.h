// Question rewriting by the generator model (--llm): a templated question becomes natural
// prose. The rewrite is kept only when it still names every entity and value the template
// gives and does not give the answer away; the task then goes through the same validation.
#pragma once

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "generators/search/validate.h"

namespace envforge::generators::search {

// Replaces task.prompt when the rewrite is accepted. Returns what happened
// ({"templated", "rewritten", "accepted", "reason"}); a backend error is a refused rewrite.
nlohmann::json rewrite_question(agents::Backend& llm, const World& world, SearchTask& task);

}  // namespace envforge::generators::search
