// openai-sft: every passing rollout as one chat example {messages, tools} in the OpenAI
// fine-tuning format (tool calls as {id, type: function, function: {name, arguments}} with
// the arguments as JSON text). Rollouts without an assistant turn teach nothing: skipped.
#include <set>

#include <spdlog/spdlog.h>

#include "data/export/export_format.h"
#include "data/export/trainer_rows.h"

namespace envforge::data::exports {

namespace {

using nlohmann::json;

std::string text_of(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return "";
  return json_text(content);
}

// The messages of a recorded trajectory ({"messages": [...]} or a bare list); null when
// the record has neither.
const json* trajectory_messages(const json& trajectory) {
  if (trajectory.is_array()) return &trajectory;
  if (trajectory.is_object()) {
    auto it = trajectory.find("messages");
    if (it != trajectory.end() && it->is_array()) return &*it;
  }
  return nullptr;
}

struct SftExample {
  json messages = json::array();
  std::set<std::string> called;  // tool names the assistant called
  bool has_assistant = false;
};

// Returns false for a message list that is not chat (a message without a role).
bool sft_convert(const json& in, const ExportRow& row, SftExample& out) {
  if (in.empty() || !in[0].is_object() || in[0].value("role", "") != "system") {
    if (!row.system_prompt.empty()) out.messages.push_back({{"role", "system"}, {"content", row.system_prompt}});
  }
  std::vector<std::string> pending_ids;  // ids of the last assistant's calls, for tool replies without one
  size_t next_id = 0;
  for (const auto& m : in) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) return false;
    const std::string role = m["role"];
    json o = {{"role", role}, {"content", text_of(m.value("content", json()))}};
    if (role == "assistant") {
      out.has_assistant = true;
      pending_ids.clear();
      auto calls = m.find("tool_calls");
      if (calls != m.end() && calls->is_array() && !calls->empty()) {
        json oc = json::array();
        for (const auto& c : *calls) {
          if (!c.is_object()) return false;
          // Either envforge's {id, name, arguments} or already OpenAI's {id, function: {...}}.
          const json& fn = c.contains("function") && c["function"].is_object() ? c["function"] : c;
          std::string name = fn.value("name", "");
          if (name.empty()) return false;
          json args = fn.contains("arguments") ? fn["arguments"] : json::object();
          std::string id = c.value("id", "");
          if (id.empty()) id = "call_" + std::to_string(next_id++);
          pending_ids.push_back(id);
          out.called.insert(name);
          oc.push_back({{"id", id},
                        {"type", "function"},
                        {"function", {{"name", name}, {"arguments", args.is_string() ? args.get<std::string>() : json_text(args)}}}});
        }
        o["tool_calls"] = std::move(oc);
      }
    } else if (role == "tool") {
      std::string id = m.value("tool_call_id", "");
      if (id.empty() && !pending_ids.empty()) {
        id = pending_ids.front();
        pending_ids.erase(pending_ids.begin());
      }
      o["tool_call_id"] = id;
    }
    out.messages.push_back(std::move(o));
  }
  return true;
}

class OpenAiSftFormat : public ExportFormat {
 public:
  explicit OpenAiSftFormat(Sink sink) : sink_(std::move(sink)) {}

  int64_t write(const ExportRow& row, const Corpus& corpus) override {
    const auto full = corpus.task(row.task.id, true);
    if (!full) return 0;
    int64_t written = 0;
    for (const auto& rollout : full->rollouts) {
      if (!rollout.passed) continue;
      const json* messages = trajectory_messages(rollout.trajectory);
      SftExample ex;
      bool ok = false;
      try {
        ok = messages && sft_convert(*messages, row, ex);
      } catch (const json::exception&) {  // a field of the wrong type
        ok = false;
      }
      if (!ok) {
        ++malformed_;
        continue;
      }
      if (!ex.has_assistant) continue;
      json tools = json::array();
      std::set<std::string> offered;
      for (const auto& t : row.tools) {
        tools.push_back(t.schema);
        offered.insert(t.name);
      }
      // The final-answer tool the solver was given is not one of the environment's.
      for (const auto& name : ex.called)
        if (!offered.count(name)) tools.push_back(answer_tool_schema(name, row.task.answer_schema));
      sink_(json_text({{"messages", ex.messages}, {"tools", tools}}) + "\n");
      ++written;
    }
    return written;
  }

  void finish() override {
    if (malformed_ > 0)
      spdlog::warn("export openai-sft: skipped {} passing rollout(s) whose trajectory is not a chat", malformed_);
  }

 private:
  Sink sink_;
  int64_t malformed_ = 0;
};

}  // namespace

std::unique_ptr<ExportFormat> make_openai_sft_format(const ExportOptions&, Sink sink) {
  return std::make_unique<OpenAiSftFormat>(std::move(sink));
}

}  // namespace envforge::data::exports
