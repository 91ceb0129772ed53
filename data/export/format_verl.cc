// verl: one parquet whose columns serve verl (data_source, prompt, ability, reward_model,
// extra_info, agent_name), SkyRL (env_class, reward_spec) and verifiers / prime-rl (answer,
// info with tool_defs, example_id) at once; optionally verl's tool-config YAML.
//
// verl looks up extra_info.tools_kwargs[tool_name].create_kwargs for whichever tool the
// model calls, and a parquet struct has one set of fields for the whole file, so every row
// carries the union of all tool names (scanned first), each pointing at the row's task.
#include <map>

#include <spdlog/spdlog.h>

#include "data/export/export_format.h"
#include "data/export/trainer_rows.h"
#include "data/export/verl_tool_config.h"

namespace envforge::data::exports {

namespace {

using nlohmann::json;
using parquet::Field;

std::vector<Field> verl_schema(const std::vector<std::string>& tool_names) {
  std::vector<Field> per_tool;
  for (const auto& name : tool_names)
    per_tool.push_back(Field::structure(name, {Field::structure("create_kwargs", {Field::string("task_id")})}));
  return {
      Field::string("data_source"),
      Field::list("prompt", Field::structure("element", {Field::string("role"), Field::string("content")})),
      Field::string("ability"),
      Field::structure("reward_model", {Field::string("style"), Field::string("ground_truth")}),
      Field::structure("extra_info",
                       {Field::string("split"), Field::int64("index"), Field::string("task_id"),
                        Field::structure("tools_kwargs", std::move(per_tool)),
                        Field::structure("interaction_kwargs", {Field::string("name"), Field::string("task_id")})}),
      Field::string("agent_name"),
      Field::string("env_class"),
      Field::structure("reward_spec", {Field::string("method"), Field::string("ground_truth")}),
      Field::string("answer"),
      Field::string("info"),
      Field::int64("example_id"),
      Field::string("task_id"),
      Field::string("environment_id"),
      Field::string("category"),
      Field::int64("difficulty"),
  };
}

class VerlFormat : public ExportFormat {
 public:
  VerlFormat(const ExportOptions& options, Sink sink) : options_(options), sink_(std::move(sink)) {}

  bool needs_scan() const override { return true; }

  void scan(const ExportRow& row) override {
    for (const auto& tool : episode_tools(row)) {
      std::string name = tool_name(tool);
      if (name.empty()) continue;
      // One tool config serves every task: its submit takes any answer (each row's own
      // answer format is in its prompt and in info.tool_defs).
      auto [it, added] = schema_of_.emplace(name, name == kSubmitTool ? answer_tool_schema(name, json::object()) : tool);
      if (added) {
        tool_names_.push_back(name);
      } else if (it->second != tool && name != kSubmitTool) {
        ++conflicts_;
      }
    }
  }

  int64_t write(const ExportRow& row, const Corpus&) override {
    if (!writer_) open();
    const std::string task_id = row.task.id;
    const std::string truth = ground_truth_text(row);
    json tools_kwargs = json::object();
    for (const auto& name : tool_names_) tools_kwargs[name] = {{"create_kwargs", {{"task_id", task_id}}}};
    json tool_defs = episode_tools(row);
    json info = {{"task_id", task_id},
                 {"environment_id", row.task.environment_id},
                 {"category", row.category},
                 {"difficulty", row.task.difficulty},
                 {"tool_defs", tool_defs}};
    json r = {
        {"data_source", data_source(row)},
        {"prompt", chat_prompt(row)},
        {"ability", "agent/" + row.category},
        {"reward_model", {{"style", "rule"}, {"ground_truth", truth}}},
        {"extra_info",
         {{"split", options_.split},
          {"index", index_},
          {"task_id", task_id},
          {"tools_kwargs", tools_kwargs},
          {"interaction_kwargs", {{"name", "envforge"}, {"task_id", task_id}}}}},
        {"agent_name", "tool_agent"},
        {"env_class", "envforge"},
        {"reward_spec", {{"method", "rule"}, {"ground_truth", truth}}},
        {"answer", truth},
        {"info", json_text(info)},
        {"example_id", index_},
        {"task_id", task_id},
        {"environment_id", row.task.environment_id},
        {"category", row.category},
        {"difficulty", row.task.difficulty},
    };
    // Corpus text is bytes; readers decode parquet strings as UTF-8, so invalid sequences
    // become U+FFFD here rather than an error in the trainer.
    writer_->write_row(json::parse(json_text(r)));
    ++index_;
    return 1;
  }

  void finish() override {
    if (!writer_) open();
    writer_->finish();
    if (conflicts_ > 0)
      spdlog::warn("export verl: {} tool schema(s) share a name with a different schema; the tool config "
                   "lists the first of each name",
                   conflicts_);
    if (!options_.tool_config_path.empty()) {
      std::vector<json> schemas;
      for (const auto& name : tool_names_)
        if (auto it = schema_of_.find(name); it != schema_of_.end()) schemas.push_back(it->second);
      write_file_atomically(options_.tool_config_path, verl_tool_config_yaml(schemas, options_.server_url));
    }
  }

 private:
  void open() {
    // Zero rows still make a valid file whose tools_kwargs struct has a field.
    if (tool_names_.empty()) tool_names_.push_back(kSubmitTool);
    writer_ = std::make_unique<parquet::Writer>(verl_schema(tool_names_), sink_, options_.parquet);
  }

  ExportOptions options_;
  Sink sink_;
  std::vector<std::string> tool_names_;  // first-seen order
  std::map<std::string, json> schema_of_;
  int64_t conflicts_ = 0;
  int64_t index_ = 0;
  std::unique_ptr<parquet::Writer> writer_;
};

}  // namespace

std::unique_ptr<ExportFormat> make_verl_format(const ExportOptions& options, Sink sink) {
  return std::make_unique<VerlFormat>(options, std::move(sink));
}

}  // namespace envforge::data::exports
