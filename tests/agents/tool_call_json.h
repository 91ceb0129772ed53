// A tool call as the agent loop's scripted replies spell it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace envforge::agents::testing {

inline nlohmann::json tool_call(const std::string& id, const std::string& name, nlohmann::json args) {
  return {{"id", id}, {"name", name}, {"arguments", std::move(args)}};
}

}  // namespace envforge::agents::testing
