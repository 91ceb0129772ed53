#include "data/export_line.h"

#include "data/content_id.h"

namespace envforge::data {

nlohmann::json export_line(const ExportRow& row, bool with_verifier) {
  nlohmann::json tools = nlohmann::json::array();
  for (const auto& t : row.tools) tools.push_back(t.schema);
  const auto& task = row.task;
  nlohmann::json line = {
      {"task_id", task.id},
      {"environment_id", task.environment_id},
      {"content_hash", task.content_hash},
      {"category", row.category},
      {"difficulty", task.difficulty},
      {"status", to_string(task.status)},
      {"system_prompt", row.system_prompt},
      {"prompt", task.prompt},
      {"messages",
       {{{"role", "system"}, {"content", row.system_prompt}}, {{"role", "user"}, {"content", task.prompt}}}},
      {"tools", tools},
      {"answer_schema", task.answer_schema},
      {"reference_solution", task.reference_solution},
      {"verifier_sha256", sha256_hex(task.verifier_code)},
      {"seed", row.seed},
      {"generator", {{"name", row.generator_name}, {"version", row.generator_version}}}};
  if (!task.reject_reason.empty()) line["reject_reason"] = task.reject_reason;
  // The solver rollouts' summary (pass rate, pass@k, keep policy) as synth recorded it.
  if (task.metadata.is_object() && task.metadata.contains("rollouts")) line["rollouts"] = task.metadata["rollouts"];
  if (with_verifier) line["verifier_code"] = task.verifier_code;
  return line;
}

}  // namespace envforge::data
