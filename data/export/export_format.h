// `envforge export` formats behind one interface. A format is one file (format_*.cc) with a
// factory, plus one line in export_formats.cc; the CLI knows no format.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/corpus.h"
#include "data/export/parquet_writer.h"

namespace envforge::data::exports {

struct ExportOptions {
  bool with_verifier = false;   // jsonl: each task's verify.py
  bool with_rollouts = false;   // jsonl: whole rollout records
  std::string split = "train";  // verl: extra_info.split
  std::string server_url = "http://127.0.0.1:8000";  // verl tool config: the envforge server
  std::string tool_config_path;  // verl: also write the tool-config YAML here (empty: don't)
  parquet::WriterOptions parquet;
};

// Receives the output file's bytes in order; throws CorpusError when it cannot write.
using Sink = std::function<void(std::string_view)>;

class ExportFormat {
 public:
  virtual ~ExportFormat() = default;
  // A format whose file header depends on every row (a parquet schema, verl's tool list)
  // is shown each row through scan() before the first write().
  virtual bool needs_scan() const { return false; }
  virtual void scan(const ExportRow&) {}
  // Writes what one task contributes; returns how many records that was (0 is fine).
  virtual int64_t write(const ExportRow& row, const Corpus& corpus) = 0;
  // Ends the file (footers, side files). Called once, also when no row was written.
  virtual void finish() = 0;
};

struct FormatSpec {
  std::string name;
  std::string extension;  // of the file it writes, e.g. ".parquet"
  std::string summary;    // one line for --help
  std::unique_ptr<ExportFormat> (*make)(const ExportOptions&, Sink);
};

const std::vector<FormatSpec>& export_formats();
const FormatSpec* find_export_format(std::string_view name);
std::string export_format_names();  // "jsonl, verl, ..."

// One factory per format file, registered in export_formats.cc.
std::unique_ptr<ExportFormat> make_jsonl_format(const ExportOptions& options, Sink sink);
std::unique_ptr<ExportFormat> make_verl_format(const ExportOptions& options, Sink sink);
std::unique_ptr<ExportFormat> make_hf_format(const ExportOptions& options, Sink sink);
std::unique_ptr<ExportFormat> make_openai_sft_format(const ExportOptions& options, Sink sink);

}  // namespace envforge::data::exports
