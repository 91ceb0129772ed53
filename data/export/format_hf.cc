// hf: JSON lines for TRL's GRPOTrainer and HF datasets. `prompt` is the chat (what TRL
// feeds the model); the other columns reach reward functions and environment_factory's
// reset(**row). Tool schemas and the ground truth are JSON strings: their shapes differ
// from task to task, which a columnar loader could not put in one column type.
#include "data/export/export_format.h"
#include "data/export/trainer_rows.h"

namespace envforge::data::exports {

namespace {

using nlohmann::json;

class HfFormat : public ExportFormat {
 public:
  explicit HfFormat(Sink sink) : sink_(std::move(sink)) {}

  int64_t write(const ExportRow& row, const Corpus&) override {
    json line = {{"prompt", chat_prompt(row)},
                 {"task_id", row.task.id},
                 {"environment_id", row.task.environment_id},
                 {"category", row.category},
                 {"difficulty", row.task.difficulty},
                 {"data_source", data_source(row)},
                 {"answer", ground_truth_text(row)},
                 {"tool_defs", json_text(episode_tools(row))}};
    sink_(json_text(line) + "\n");
    return 1;
  }
  void finish() override {}

 private:
  Sink sink_;
};

}  // namespace

std::unique_ptr<ExportFormat> make_hf_format(const ExportOptions&, Sink sink) {
  return std::make_unique<HfFormat>(std::move(sink));
}

}  // namespace envforge::data::exports
