// verl's tool-config YAML for envforge: one entry per tool name, each handled by the verl
// adapter in clients/python, which plays the episode on an envforge server.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace envforge::data::exports {

// The adapter class verl instantiates for every tool (clients/python/envforge_client).
inline constexpr const char* kVerlToolClass = "envforge_client.verl_tool.EnvforgeTool";

// tools: [{class_name, config: {type: native, server_url, ...}, tool_schema}]; schemas are
// OpenAI function schemas, written as JSON flow mappings (valid YAML).
std::string verl_tool_config_yaml(const std::vector<nlohmann::json>& tool_schemas, const std::string& server_url);

// Writes `bytes` to path.tmp, syncs and renames it over `path`; throws CorpusError.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace envforge::data::exports
