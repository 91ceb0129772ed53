// jsonl: one task per line with its environment's system prompt and tools (the format
// `envforge export` always had; its fields are unchanged).
#include "data/content_id.h"
#include "data/export/export_format.h"
#include "data/export/trainer_rows.h"

namespace envforge::data::exports {

namespace {

using nlohmann::json;

// Whole attempts, trajectories included (--with-rollouts).
json jsonl_rollout_records(const TaskRecord& task) {
  json out = json::array();
  for (const auto& r : task.rollouts)
    out.push_back({{"id", r.id},
                   {"model", r.model},
                   {"attempt", r.attempt},
                   {"reward", r.reward},
                   {"passed", r.passed},
                   {"prompt_tokens", r.prompt_tokens},
                   {"completion_tokens", r.completion_tokens},
                   {"started_at_ms", r.started_at_ms},
                   {"wall_ms", r.wall_ms},
                   {"trajectory", r.trajectory}});
  return out;
}

json jsonl_line(const ExportRow& row, bool with_verifier) {
  json tools = json::array();
  for (const auto& t : row.tools) tools.push_back(t.schema);
  const auto& task = row.task;
  json line = {
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

class JsonlFormat : public ExportFormat {
 public:
  JsonlFormat(const ExportOptions& options, Sink sink) : options_(options), sink_(std::move(sink)) {}

  int64_t write(const ExportRow& row, const Corpus& corpus) override {
    json line = jsonl_line(row, options_.with_verifier);
    if (options_.with_rollouts) {
      const auto full = corpus.task(row.task.id, true);
      line["rollout_records"] = full ? jsonl_rollout_records(*full) : json::array();
    }
    sink_(json_text(line) + "\n");
    return 1;
  }
  void finish() override {}

 private:
  ExportOptions options_;
  Sink sink_;
};

}  // namespace

std::unique_ptr<ExportFormat> make_jsonl_format(const ExportOptions& options, Sink sink) {
  return std::make_unique<JsonlFormat>(options, std::move(sink));
}

}  // namespace envforge::data::exports
