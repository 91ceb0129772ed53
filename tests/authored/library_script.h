// A scripted generator agent that builds a small library-catalogue environment through real
// tool calls (run_python with sqlite3, write_file, query_db, submit), for the authored tests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace envforge::generators::authored::testing {

// Tool-call reply and final-text reply in the scripted backend's format.
nlohmann::json call(const std::string& tool, nlohmann::json arguments);
nlohmann::json calls(nlohmann::json list);  // several tool calls in one reply
nlohmann::json text(const std::string& content);

extern const char* const kBuildWorldPy;   // creates world.db with sqlite3
extern const char* const kToolsPy;
extern const char* const kVerifyFirstPy;  // round 1: the first-published book of an author and genre
extern const char* const kVerifyHarderPy; // round 2: most available copies among a country's books
extern const char* const kVerifyAcceptsAllPy;

nlohmann::json tools_json();
nlohmann::json first_submission();
nlohmann::json harder_submission();

struct ScriptOptions {
  bool broken_verifier = false;  // verify.py accepts everything
  bool hardening = true;         // script a second round
};

// The whole script: {"replies": [...]}.
nlohmann::json library_script(const ScriptOptions& options = {});

}  // namespace envforge::generators::authored::testing
