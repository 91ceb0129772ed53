// What every trainer format derives from an export row the same way: the chat prompt, the
// tools an episode offers (the environment's plus `submit`), the ground truth as text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "data/corpus.h"

namespace envforge::data::exports {

// The name of the tool that ends an episode with an answer (the server offers it too).
inline constexpr const char* kSubmitTool = "submit";

// [{"role":"system",...}, {"role":"user",...}]; the system message only when there is one.
nlohmann::json chat_prompt(const ExportRow& row);

// One rollout with its whole trajectory, as JSONL exports and the audit view show it.
nlohmann::json rollout_json(const RolloutRecord& rollout);
// OpenAI function schema of a final-answer tool named `name` taking {"answer": schema}.
nlohmann::json answer_tool_schema(const std::string& name, const nlohmann::json& answer_schema);
// The environment's tool schemas plus `submit`, in OpenAI function format.
nlohmann::json episode_tools(const ExportRow& row);
// function.name of an OpenAI function schema ("" when it has none).
std::string tool_name(const nlohmann::json& schema);
// The reference solution as compact JSON text (what reward functions compare against).
std::string ground_truth_text(const ExportRow& row);
// "envforge/<category>".
std::string data_source(const ExportRow& row);
// Compact JSON that never throws on invalid UTF-8 (replaced with U+FFFD).
std::string json_text(const nlohmann::json& value);

}  // namespace envforge::data::exports
