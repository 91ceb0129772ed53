// envforge export: a corpus in trainer formats (data/export/: jsonl, verl parquet, hf,
// openai-sft). This file owns the flags and the output file; formats own the bytes.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/job_config.h"
#include "cli/logging.h"
#include "cli/progress.h"
#include "data/corpus.h"
#include "data/export/export_format.h"

namespace envforge::cli {

namespace {

int export_main(int argc, char** argv) {
  cxxopts::Options options("envforge export", "Export a corpus in trainer formats.");
  options.add_options()
      ("corpus", "corpus file to read", cxxopts::value<std::string>())
      ("format", "output format: " + data::exports::export_format_names(),
       cxxopts::value<std::string>()->default_value("jsonl"))
      ("out", "output file ('-' for stdout); written to FILE.tmp, then renamed",
       cxxopts::value<std::string>())
      ("usable-only", "only tasks that passed validation",
       cxxopts::value<bool>()->default_value("false"))
      ("category", "only this category (empty: all)", cxxopts::value<std::string>()->default_value(""))
      ("difficulty", "only this difficulty level (0: all)", cxxopts::value<int64_t>()->default_value("0"))
      ("with-verifier", "include each task's verify.py source",
       cxxopts::value<bool>()->default_value("false"))
      ("with-rollouts", "include each task's solver rollouts with their whole trajectories "
       "(without it, only the rollout summary)", cxxopts::value<bool>()->default_value("false"))
      ("tool-config", "verl: also write verl's tool-config YAML (tools that call the envforge server) here",
       cxxopts::value<std::string>())
      ("server-url", "verl: the envforge server the tool config points at",
       cxxopts::value<std::string>()->default_value("http://127.0.0.1:8000"))
      ("split", "verl: extra_info.split of every row", cxxopts::value<std::string>()->default_value("train"));
  add_config_option(options);
  add_logging_options(options);
  add_help_option(options);
  auto flags = parse_flags(options, argc, argv);
  if (!flags) return 0;
  JobConfig cfg = JobConfig::resolve(options, *flags);
  if (cfg.source("corpus") == "unset") throw UsageError("--corpus FILE is required");
  if (cfg.source("out") == "unset") throw UsageError("--out FILE is required");
  std::string path = cfg.get_string("corpus");
  std::string out_path = cfg.get_string("out");
  std::string format = cfg.get_string("format");
  const data::exports::FormatSpec* spec = data::exports::find_export_format(format);
  if (!spec)
    throw UsageError("--format: unknown format '" + format + "' (" + data::exports::export_format_names() + ")");
  data::TaskFilter filter;
  filter.usable_only = cfg.get_bool("usable-only");
  filter.category = cfg.get_string("category");
  int64_t difficulty = cfg.get_int("difficulty");
  if (difficulty < 0) throw UsageError("--difficulty must be >= 0");
  if (difficulty > 0) filter.difficulty = static_cast<int>(difficulty);
  data::exports::ExportOptions export_options;
  export_options.with_verifier = cfg.get_bool("with-verifier");
  export_options.with_rollouts = cfg.get_bool("with-rollouts");
  export_options.split = cfg.get_string("split");
  export_options.server_url = cfg.get_string("server-url");
  if (cfg.source("tool-config") != "unset") {
    if (format != "verl") throw UsageError("--tool-config is only for --format verl");
    export_options.tool_config_path = cfg.get_string("tool-config");
    if (export_options.tool_config_path.empty()) throw UsageError("--tool-config needs a file name");
  }
  if ((export_options.with_verifier || export_options.with_rollouts) && format != "jsonl")
    throw UsageError("--with-verifier and --with-rollouts are only for --format jsonl");
  setup_logging(logging_options(*flags));

  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "envforge export: corpus %s: no such file\n", path.c_str());
    return 1;
  }
  bool to_stdout = out_path == "-";
  std::string tmp_path = out_path + ".tmp";
  std::FILE* out = to_stdout ? stdout : std::fopen(tmp_path.c_str(), "wb");
  if (!out) {
    std::fprintf(stderr, "envforge export: cannot write %s: %s\n", tmp_path.c_str(), std::strerror(errno));
    return 1;
  }
  int64_t records = 0, tasks = 0;
  try {
    data::Corpus corpus = data::Corpus::open(path);
    auto sink = [&](std::string_view bytes) {
      if (std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size())
        throw data::CorpusError(std::string("write to ") + out_path + " failed: " + std::strerror(errno));
    };
    auto writer = spec->make(export_options, sink);
    if (writer->needs_scan()) corpus.for_each_export_row(filter, [&](const data::ExportRow& row) { writer->scan(row); });
    ProgressOptions progress_options;
    progress_options.label = "export";
    progress_options.unit = "tasks";
    progress_options.total = static_cast<uint64_t>(corpus.count_tasks(filter));
    Progress progress(progress_options);
    corpus.for_each_export_row(filter, [&](const data::ExportRow& row) {
      records += writer->write(row, corpus);
      ++tasks;
      progress.advance();
    });
    writer->finish();
    progress.finish();
    if (std::fflush(out) != 0 || (!to_stdout && fsync(fileno(out)) != 0))
      throw data::CorpusError(std::string("write to ") + out_path + " failed: " + std::strerror(errno));
  } catch (const std::exception& e) {  // CorpusError, or a row a format cannot encode
    if (!to_stdout) {
      std::fclose(out);
      std::remove(tmp_path.c_str());
    }
    std::fprintf(stderr, "envforge export: %s\n", e.what());
    return 1;
  }
  if (!to_stdout) {
    std::fclose(out);
    if (std::rename(tmp_path.c_str(), out_path.c_str()) != 0) {
      std::fprintf(stderr, "envforge export: cannot rename %s to %s: %s\n", tmp_path.c_str(),
                   out_path.c_str(), std::strerror(errno));
      std::remove(tmp_path.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "exported %lld record(s) of %lld task(s) as %s to %s\n", static_cast<long long>(records),
               static_cast<long long>(tasks), format.c_str(), out_path.c_str());
  return 0;
}

}  // namespace

int cmd_export(int argc, char** argv) { return run_with_usage_errors("export", export_main, argc, argv); }

}  // namespace envforge::cli
