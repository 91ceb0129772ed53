#include "data/export/trainer_rows.h"

namespace envforge::data::exports {

using nlohmann::json;

std::string json_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json chat_prompt(const ExportRow& row) {
  json messages = json::array();
  if (!row.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", row.system_prompt}});
  messages.push_back({{"role", "user"}, {"content", row.task.prompt}});
  return messages;
}

json answer_tool_schema(const std::string& name, const json& answer_schema) {
  json answer = answer_schema.is_object() ? answer_schema : json::object();
  return {{"type", "function"},
          {"function",
           {{"name", name},
            {"description", "Submit the final answer. Call it once, when done; it ends the episode."},
            {"parameters",
             {{"type", "object"},
              {"properties", {{"answer", answer}}},
              {"required", {"answer"}},
              {"additionalProperties", false}}}}}};
}

json episode_tools(const ExportRow& row) {
  json tools = json::array();
  for (const auto& t : row.tools)
    if (t.name != kSubmitTool) tools.push_back(t.schema);
  tools.push_back(answer_tool_schema(kSubmitTool, row.task.answer_schema));
  return tools;
}

std::string tool_name(const json& schema) {
  if (!schema.is_object()) return "";
  auto fn = schema.find("function");
  if (fn == schema.end() || !fn->is_object()) return "";
  auto name = fn->find("name");
  return name != fn->end() && name->is_string() ? name->get<std::string>() : "";
}

std::string ground_truth_text(const ExportRow& row) { return json_text(row.task.reference_solution); }

std::string data_source(const ExportRow& row) { return "envforge/" + row.category; }

json rollout_json(const RolloutRecord& r) {
  return {{"id", r.id},
          {"model", r.model},
          {"attempt", r.attempt},
          {"reward", r.reward},
          {"passed", r.passed},
          {"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"started_at_ms", r.started_at_ms},
          {"wall_ms", r.wall_ms},
          {"trajectory", r.trajectory}};
}

}  // namespace envforge::data::exports
