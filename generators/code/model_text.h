// What the generator model (--llm) adds to code tasks: rewrites of functions with a subtle
// bug (candidates that then face the same fail-to-pass / pass-to-pass checks as the AST
// mutants), and issue texts written from the failing tests' output. Every reply is only
// text to check: a failed call or a reply that fails a check is a refusal with a reason,
// never an exception.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "agents/backend.h"

namespace envforge::generators::code {

// For each target ({file, function, source}): {file, function, reply} or {file, function,
// error}.
nlohmann::json ask_rewrites(agents::Backend& llm, const nlohmann::json& targets);

// An issue text from `facts` (gen.py's issue_facts). Returns {"accepted", "reason", "text"}:
// accepted only when the text keeps to its level, i.e. contains nothing of facts.forbidden
// (the fix's lines; at the symptom levels also the buggy lines and every test's name) and
// no diff; the caller then uses head + text + tail instead of the template.
nlohmann::json write_issue(agents::Backend& llm, const nlohmann::json& facts);

// The check write_issue applies, on its own: "" when `text` may be the issue's body, else why not.
std::string issue_text_problem(const std::string& text, const nlohmann::json& facts);

}  // namespace envforge::generators::code
