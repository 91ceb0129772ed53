// envforge export: a corpus in trainer formats (JSON lines: one task per line
// with its environment's system prompt and tools).
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
#include "data/content_id.h"
#include "data/corpus.h"
#include "data/export_line.h"

namespace envforge::cli {

namespace {

// Whole attempts, trajectories included (--with-rollouts).
nlohmann::json rollout_records(const data::TaskRecord& task) {
  nlohmann::json out = nlohmann::json::array();
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

int export_main(int argc, char** argv) {
  cxxopts::Options options("envforge export", "Export a corpus in trainer formats.");
  options.add_options()
      ("corpus", "corpus file to read", cxxopts::value<std::string>())
      ("format", "output format (jsonl)", cxxopts::value<std::string>()->default_value("jsonl"))
      ("out", "output file ('-' for stdout); written to FILE.tmp, then renamed",
       cxxopts::value<std::string>())
      ("usable-only", "only tasks that passed validation",
       cxxopts::value<bool>()->default_value("false"))
      ("category", "only this category (empty: all)", cxxopts::value<std::string>()->default_value(""))
      ("difficulty", "only this difficulty level (0: all)", cxxopts::value<int64_t>()->default_value("0"))
      ("with-verifier", "include each task's verify.py source",
       cxxopts::value<bool>()->default_value("false"))
      ("with-rollouts", "include each task's solver rollouts with their whole trajectories "
       "(without it, only the rollout summary)", cxxopts::value<bool>()->default_value("false"));
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
  if (format != "jsonl") throw UsageError("--format: unknown format '" + format + "' (jsonl)");
  data::TaskFilter filter;
  filter.usable_only = cfg.get_bool("usable-only");
  filter.category = cfg.get_string("category");
  int64_t difficulty = cfg.get_int("difficulty");
  if (difficulty < 0) throw UsageError("--difficulty must be >= 0");
  if (difficulty > 0) filter.difficulty = static_cast<int>(difficulty);
  bool with_verifier = cfg.get_bool("with-verifier");
  bool with_rollouts = cfg.get_bool("with-rollouts");
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
  int64_t lines = 0;
  try {
    data::Corpus corpus = data::Corpus::open(path);
    ProgressOptions progress_options;
    progress_options.label = "export";
    progress_options.unit = "tasks";
    progress_options.total = static_cast<uint64_t>(corpus.count_tasks(filter));
    Progress progress(progress_options);
    corpus.for_each_export_row(filter, [&](const data::ExportRow& row) {
      nlohmann::json line = data::export_line(row, with_verifier);
      if (with_rollouts) {
        const auto full = corpus.task(row.task.id, true);
        line["rollout_records"] = full ? rollout_records(*full) : nlohmann::json::array();
      }
      std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      text += '\n';
      if (std::fwrite(text.data(), 1, text.size(), out) != text.size())
        throw data::CorpusError(std::string("write to ") + out_path + " failed: " + std::strerror(errno));
      ++lines;
      progress.advance();
    });
    progress.finish();
    if (std::fflush(out) != 0 || (!to_stdout && fsync(fileno(out)) != 0))
      throw data::CorpusError(std::string("write to ") + out_path + " failed: " + std::strerror(errno));
  } catch (const data::CorpusError& e) {
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
  std::fprintf(stderr, "exported %lld task(s) to %s\n", static_cast<long long>(lines), out_path.c_str());
  return 0;
}

}  // namespace

int cmd_export(int argc, char** argv) { return run_with_usage_errors("export", export_main, argc, argv); }

}  // namespace envforge::cli
