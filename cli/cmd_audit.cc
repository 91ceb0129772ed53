// envforge audit: statistics and checks over a corpus; --web serves the audit web view.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/job_config.h"
#include "cli/logging.h"
#include "data/corpus.h"
#include "sandbox/sandbox.h"
#include "server/server.h"

namespace envforge::cli {

namespace {

nlohmann::json rollout_json(const data::AuditSummary::RolloutStats& r) {
  nlohmann::json levels = nlohmann::json::object();
  for (const auto& [level, v] : r.by_difficulty)
    levels[std::to_string(level)] = {{"scored_tasks", v.first}, {"mean_pass_rate", v.second}};
  return {{"tasks_with_rollouts", r.tasks},
          {"scored_tasks", r.scored_tasks},
          {"mean_pass_rate", r.scored_tasks ? nlohmann::json(r.mean_pass_rate) : nlohmann::json(nullptr)},
          {"kept_by_policy", r.kept},
          {"filtered_by_policy", r.filtered},
          {"by_difficulty", levels},
          {"rollouts_by_model", data::counts_json(r.rollouts_by_model)}};
}

nlohmann::json summary_json(const std::string& path, int version, const data::AuditSummary& a) {
  nlohmann::json dups = nlohmann::json::array();
  for (const auto& d : a.duplicates) dups.push_back({{"content_hash", d.content_hash}, {"count", d.count}});
  return {{"corpus", path},
          {"schema_version", version},
          {"environments", a.environments},
          {"tasks", a.tasks},
          {"usable", a.usable},
          {"rejected", a.rejected},
          {"validations", a.validations},
          {"validations_failed", a.validations_failed},
          {"rollouts", a.rollouts},
          {"runs", a.runs},
          {"audits", a.audits},
          {"by_category",
           {{"environments", data::counts_json(a.environments_by_category)},
            {"tasks", data::counts_json(a.tasks_by_category)}}},
          {"by_difficulty", data::counts_json(a.tasks_by_difficulty)},
          {"by_status", data::counts_json(a.tasks_by_status)},
          {"reject_reasons", data::counts_json(a.reject_reasons)},
          {"validation_failures", data::counts_json(a.validation_failures)},
          {"duplicates", {{"groups", a.duplicate_groups}, {"top", dups}}},
          {"rollout_stats", rollout_json(a.rollout_stats)}};
}

template <typename Map>
void print_counts(const char* title, const Map& m) {
  std::printf("\n%s\n", title);
  if (m.empty()) std::printf("  (none)\n");
  for (const auto& [k, v] : m) {
    std::string key;
    if constexpr (std::is_same_v<std::decay_t<decltype(k)>, std::string>)
      key = k.empty() ? "(no reason)" : k;
    else
      key = "level " + std::to_string(k);
    std::printf("  %-48s %10lld\n", key.c_str(), static_cast<long long>(v));
  }
}

void print_text(const std::string& path, int version, const data::AuditSummary& a, double ms) {
  double pct = a.tasks ? 100.0 * static_cast<double>(a.usable) / static_cast<double>(a.tasks) : 0.0;
  std::printf("corpus %s (schema %d), audited in %.0f ms\n", path.c_str(), version, ms);
  std::printf("environments %lld, tasks %lld, usable %lld (%.1f%%), rejected %lld\n",
              static_cast<long long>(a.environments), static_cast<long long>(a.tasks),
              static_cast<long long>(a.usable), pct, static_cast<long long>(a.rejected));
  std::printf("validations %lld (%lld not as expected), rollouts %lld, runs %lld, audits %lld\n",
              static_cast<long long>(a.validations), static_cast<long long>(a.validations_failed),
              static_cast<long long>(a.rollouts), static_cast<long long>(a.runs),
              static_cast<long long>(a.audits));
  print_counts("environments by category", a.environments_by_category);
  print_counts("tasks by category", a.tasks_by_category);
  print_counts("tasks by difficulty", a.tasks_by_difficulty);
  print_counts("tasks by status", a.tasks_by_status);
  print_counts("reject reasons", a.reject_reasons);
  print_counts("validation failures (check: reason)", a.validation_failures);
  std::printf("\nduplicates by content hash: %lld group(s)\n", static_cast<long long>(a.duplicate_groups));
  for (const auto& d : a.duplicates)
    std::printf("  %s  x%lld\n", d.content_hash.c_str(), static_cast<long long>(d.count));
  const auto& r = a.rollout_stats;
  std::printf("\nsolver rollouts: %lld task(s) with rollouts", static_cast<long long>(r.tasks));
  if (r.scored_tasks)
    std::printf(", mean pass rate %.3f over %lld scored", r.mean_pass_rate, static_cast<long long>(r.scored_tasks));
  std::printf("; keep policy: %lld kept (usable), %lld filtered (rejected)\n", static_cast<long long>(r.kept),
              static_cast<long long>(r.filtered));
  for (const auto& [level, v] : r.by_difficulty)
    std::printf("  level %d: %lld scored task(s), mean pass rate %.3f\n", level, static_cast<long long>(v.first),
                v.second);
  for (const auto& [model, n] : r.rollouts_by_model)
    std::printf("  %-48s %10lld rollouts\n", model.c_str(), static_cast<long long>(n));
}

// `envforge serve` of the corpus on loopback without a token: audits record who = "local".
int serve_web(const std::string& path, uint16_t port) {
  server::ServeOptions o;
  o.corpus = path;
  o.host = "127.0.0.1";
  o.port = port;
  try {
    sandbox::Sandbox::shared();  // the server also plays episodes: start the launcher while small
    server::Server srv(o);
    std::printf("envforge audit: the web view is at http://127.0.0.1:%u/\n", static_cast<unsigned>(srv.port()));
    std::fflush(stdout);
    srv.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge audit: %s\n", e.what());
    return 1;
  }
  return 0;
}

int audit_main(int argc, char** argv) {
  cxxopts::Options options("envforge audit", "Statistics and checks over a corpus.");
  options.add_options()
      ("corpus", "corpus file to audit", cxxopts::value<std::string>())
      ("json", "print one JSON object instead of text", cxxopts::value<bool>()->default_value("false"))
      ("check", "also run SQLite's integrity check (reads the whole file)",
       cxxopts::value<bool>()->default_value("false"))
      ("web", "serve the audit web view on loopback (prints its address; Ctrl-C stops it)",
       cxxopts::value<bool>()->default_value("false"))
      ("port", "with --web: the port (0: any free port)", cxxopts::value<int64_t>()->default_value("0"));
  add_config_option(options);
  add_logging_options(options);
  add_help_option(options);
  auto flags = parse_flags(options, argc, argv);
  if (!flags) return 0;
  JobConfig cfg = JobConfig::resolve(options, *flags);
  if (cfg.source("corpus") == "unset") throw UsageError("--corpus FILE is required");
  std::string path = cfg.get_string("corpus");
  bool json = cfg.get_bool("json");
  data::OpenOptions open_options;
  open_options.check_integrity = cfg.get_bool("check");
  setup_logging(logging_options(*flags));

  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "envforge audit: corpus %s: no such file\n", path.c_str());
    return 1;
  }
  if (cfg.get_bool("web")) {
    const int64_t port = cfg.get_int("port");
    if (port < 0 || port > 65535) throw UsageError("--port must be from 0 to 65535");
    return serve_web(path, static_cast<uint16_t>(port));
  }
  try {
    auto start = std::chrono::steady_clock::now();
    // Opening migrates an older schema forward; it writes nothing else.
    data::Corpus corpus = data::Corpus::open(path, open_options);
    data::AuditSummary summary = corpus.audit_summary();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (json)
      std::printf("%s\n", summary_json(path, corpus.schema_version(), summary).dump(2).c_str());
    else
      print_text(path, corpus.schema_version(), summary, ms);
  } catch (const data::CorpusError& e) {
    std::fprintf(stderr, "envforge audit: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_audit(int argc, char** argv) { return run_with_usage_errors("audit", audit_main, argc, argv); }

}  // namespace envforge::cli
