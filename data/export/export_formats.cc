// The registry of export formats: one line per format.
#include "data/export/export_format.h"

namespace envforge::data::exports {

const std::vector<FormatSpec>& export_formats() {
  static const std::vector<FormatSpec> formats = {
      {"jsonl", ".jsonl", "one task per line with its environment's prompt and tools", make_jsonl_format},
      {"verl", ".parquet", "parquet for verl, SkyRL and verifiers/prime-rl (+ --tool-config YAML)", make_verl_format},
      {"hf", ".jsonl", "JSON lines for TRL and HF datasets: prompt as chat, columns for rewards", make_hf_format},
      {"openai-sft", ".jsonl", "passing rollouts as chat {messages, tools} for fine-tuning", make_openai_sft_format},
  };
  return formats;
}

const FormatSpec* find_export_format(std::string_view name) {
  for (const auto& f : export_formats())
    if (f.name == name) return &f;
  return nullptr;
}

std::string export_format_names() {
  std::string names;
  for (const auto& f : export_formats()) names += (names.empty() ? "" : ", ") + f.name;
  return names;
}

}  // namespace envforge::data::exports
