// envforge merge: the shard corpora of a job (one per array task or pod)
// become one corpus. Idempotent: rerunning a merge, or merging a shard again,
// adds nothing; an interrupted merge is completed by running it again.
#include <cstdio>
#include <string>
#include <vector>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/job_config.h"
#include "data/corpus.h"
#include "data/corpus_merge.h"

namespace envforge::cli {
namespace {

// Exit code of a merge that completed but found conflicting records (kept as they were).
constexpr int kMergedWithConflicts = 3;

nlohmann::json report_json(const data::MergeReport& r) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& s : r.shards)
    shards.push_back({{"path", s.path},
                      {"environments_added", s.environments_added},
                      {"environments_present", s.environments_present},
                      {"tasks_added", s.tasks_added},
                      {"tasks_present", s.tasks_present},
                      {"validations_added", s.validations_added},
                      {"rollouts_added", s.rollouts_added},
                      {"work_items_added", s.work_items_added},
                      {"runs_added", s.runs_added},
                      {"audits_added", s.audits_added},
                      {"blobs_added", s.blobs_added},
                      {"conflicts", s.conflicts},
                      {"seconds", s.seconds}});
  nlohmann::json conflicts = nlohmann::json::array();
  for (const auto& c : r.conflicts)
    conflicts.push_back({{"shard", c.shard}, {"kind", c.kind}, {"id", c.id}, {"detail", c.detail}});
  return {{"out", r.out},           {"shards", shards},
          {"conflicts", conflicts}, {"conflict_count", r.conflict_count},
          {"check_seconds", r.check_seconds}, {"seconds", r.seconds}};
}

void print_report(const data::MergeReport& r) {
  int64_t tasks = 0, present = 0, envs = 0;
  for (const auto& s : r.shards) {
    std::printf("%s: +%lld environment(s), +%lld task(s) (%lld already present), +%lld validation(s), "
                "+%lld rollout(s), +%lld run(s)%s\n",
                s.path.c_str(), static_cast<long long>(s.environments_added),
                static_cast<long long>(s.tasks_added), static_cast<long long>(s.tasks_present),
                static_cast<long long>(s.validations_added), static_cast<long long>(s.rollouts_added),
                static_cast<long long>(s.runs_added),
                s.conflicts ? (", " + std::to_string(s.conflicts) + " conflict(s)").c_str() : "");
    tasks += s.tasks_added;
    present += s.tasks_present;
    envs += s.environments_added;
  }
  std::printf("merge: %zu shard(s) into %s: %lld environment(s) and %lld task(s) added, %lld task(s) "
              "already present, in %.1f s (checks %.1f s)\n",
              r.shards.size(), r.out.c_str(), static_cast<long long>(envs), static_cast<long long>(tasks),
              static_cast<long long>(present), r.seconds, r.check_seconds);
  for (const auto& c : r.conflicts)
    std::fprintf(stderr, "conflict: %s %s in %s %s; the merged corpus keeps its own\n", c.kind.c_str(),
                 c.id.c_str(), c.shard.c_str(), c.detail.c_str());
  if (r.conflict_count > static_cast<int64_t>(r.conflicts.size()))
    std::fprintf(stderr, "conflict: ... %lld more (see --json)\n",
                 static_cast<long long>(r.conflict_count - static_cast<int64_t>(r.conflicts.size())));
}

int merge_main(int argc, char** argv) {
  cxxopts::Options options(
      "envforge merge",
      "Merge shard corpora into one: envforge merge --out ALL.db SHARD.db... Records are keyed by "
      "content id, so merging is idempotent; every run's provenance is kept. A record whose id is "
      "present with different content is reported and not overwritten (exit code 3). Every input "
      "is checked before anything is written: a corrupt file or one of another schema is refused "
      "(exit code 1).");
  options.add_options()
      ("out", "merged corpus (created if missing; merging into an existing one adds to it)",
       cxxopts::value<std::string>())
      ("shards", "shard corpora", cxxopts::value<std::vector<std::string>>())
      ("skip-integrity-check", "do not read every page of the inputs first (PRAGMA quick_check)",
       cxxopts::value<bool>()->default_value("false"))
      ("max-conflicts", "conflicts listed (all are counted)", cxxopts::value<int64_t>()->default_value("100"))
      ("json", "print the report as one JSON object", cxxopts::value<bool>()->default_value("false"))
      ("quiet", "no per-shard progress on stderr", cxxopts::value<bool>()->default_value("false"));
  options.parse_positional({"shards"});
  options.positional_help("SHARD.db...");
  add_help_option(options);
  auto flags = parse_flags(options, argc, argv);
  if (!flags) return 0;
  if (!flags->count("out") || flags->operator[]("out").as<std::string>().empty())
    throw UsageError("--out ALL.db is required");
  if (!flags->count("shards")) throw UsageError("no shard corpora given (envforge merge --out ALL.db SHARD.db...)");
  const int64_t max_conflicts = (*flags)["max-conflicts"].as<int64_t>();
  if (max_conflicts < 0) throw UsageError("--max-conflicts must not be negative");
  const bool json_out = (*flags)["json"].as<bool>();
  const bool quiet = (*flags)["quiet"].as<bool>();

  data::MergeOptions mo;
  mo.check_integrity = !(*flags)["skip-integrity-check"].as<bool>();
  mo.max_conflicts_listed = static_cast<size_t>(max_conflicts);
  if (!quiet)
    mo.on_shard = [](const std::string& shard, size_t i, size_t n) {
      std::fprintf(stderr, "merge: [%zu/%zu] %s\n", i + 1, n, shard.c_str());
    };
  data::MergeReport report;
  try {
    report = data::merge_corpora((*flags)["out"].as<std::string>(),
                                 (*flags)["shards"].as<std::vector<std::string>>(), mo);
  } catch (const data::CorpusError& e) {
    std::fprintf(stderr, "envforge merge: %s\n", e.what());
    return 1;
  }
  if (json_out)
    std::printf("%s\n", report_json(report).dump().c_str());
  else
    print_report(report);
  return report.conflict_count ? kMergedWithConflicts : 0;
}

}  // namespace

int cmd_merge(int argc, char** argv) { return run_with_usage_errors("merge", merge_main, argc, argv); }

}  // namespace envforge::cli
