// jsonl: one task per line with its environment's system prompt and tools (the format
// `envforge export` always had; its fields are unchanged).
#include "data/export_line.h"
#include "data/export/export_format.h"
#include "data/export/trainer_rows.h"

namespace envforge::data::exports {

namespace {

using nlohmann::json;

// Whole attempts, trajectories included (--with-rollouts).
json jsonl_rollout_records(const TaskRecord& task) {
  json out = json::array();
  for (const auto& r : task.rollouts) out.push_back(rollout_json(r));
  return out;
}

class JsonlFormat : public ExportFormat {
 public:
  JsonlFormat(const ExportOptions& options, Sink sink) : options_(options), sink_(std::move(sink)) {}

  int64_t write(const ExportRow& row, const Corpus& corpus) override {
    json line = export_line(row, options_.with_verifier);
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
