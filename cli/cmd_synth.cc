// envforge synth: synthesize environments with their task ladders into a corpus.
// Work items are validated in the sandbox and recorded one transaction each, so
// a killed run resumes where it stopped when the same job is run again.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/job_config.h"
#include "cli/logging.h"
#include "cli/progress.h"
#include "cli/shard.h"
#include "cli/version.h"
#include "agents/backend_spec.h"
#include "data/corpus.h"
#include "generators/category.h"
#include "generators/rollout_stage.h"
#include "generators/sandbox_python.h"
#include "generators/solver_source.h"
#include "generators/synth_job.h"
#include "sandbox/sandbox.h"

namespace envforge::cli {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "";
}

std::string default_jobs() {
  const unsigned n = std::thread::hardware_concurrency();
  return std::to_string(n == 0 ? 1 : n);
}

void print_summary(const std::string& out, const generators::SynthSummary& s) {
  std::printf("synth: %llu environment(s) recorded in %s", static_cast<unsigned long long>(s.environments),
              out.c_str());
  if (s.skipped) std::printf(" (%llu already there, skipped)", static_cast<unsigned long long>(s.skipped));
  if (s.failed) std::printf(", %llu failed", static_cast<unsigned long long>(s.failed));
  std::printf("\ntasks: %llu, usable %llu\n", static_cast<unsigned long long>(s.tasks),
              static_cast<unsigned long long>(s.usable));
  for (const auto& [level, n] : s.tasks_per_level) {
    const auto it = s.usable_per_level.find(level);
    std::printf("  level %d: %llu task(s), %llu usable\n", level, static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(it == s.usable_per_level.end() ? 0 : it->second));
  }
  std::printf("validation: %llu sandbox verdicts, %.1f%% as expected\n",
              static_cast<unsigned long long>(s.validations), 100.0 * s.validation_pass_rate());
  std::printf("time: %.1f s (", s.wall_s);
  for (size_t i = 0; i < s.times.stages().size(); ++i)
    std::printf("%s%s %.1f s", i ? ", " : "", s.times.stages()[i].first.c_str(), s.times.stages()[i].second / 1000);
  std::printf("%ssummed over workers)\n", s.times.stages().empty() ? "" : ", ");
  if (s.solver != "none") {
    const auto& r = s.rollouts;
    std::printf("rollouts: %llu attempt(s) by %s on %llu task(s), %llu passed",
                static_cast<unsigned long long>(r.attempts), s.solver.c_str(),
                static_cast<unsigned long long>(r.tasks), static_cast<unsigned long long>(r.passes));
    if (r.errors) std::printf(", %llu not scored (errors)", static_cast<unsigned long long>(r.errors));
    std::printf(", %.1f s\n", r.ms / 1000);
    if (r.scored_tasks) {
      std::printf("  mean pass rate %.3f;", r.pass_rate_sum / static_cast<double>(r.scored_tasks));
      for (const auto& [k, v] : r.pass_at_sum)
        std::printf(" pass@%d %.3f", k, v / static_cast<double>(r.pass_at_tasks.at(k)));
      std::printf(" (averaged over tasks)\n");
    }
    std::printf("  keep policy: %llu task(s) kept, %llu filtered (now rejected)\n",
                static_cast<unsigned long long>(r.kept), static_cast<unsigned long long>(r.filtered));
  }
  if (s.skipped_other_rollout_config)
    std::printf("note: %llu skipped item(s) were recorded with another rollout configuration and keep it\n",
                static_cast<unsigned long long>(s.skipped_other_rollout_config));
  for (const auto& e : s.errors) std::printf("error: %s\n", e.c_str());
}

// Every category's own options, as flags (and job file keys) in a group per category. An
// option two categories declare is offered once, in the first one's group.
void add_category_options(cxxopts::Options& options) {
  using Type = generators::CategoryOption::Type;
  std::map<std::string, Type> added;
  for (const auto& c : generators::categories()) {
    auto adder = options.add_options("Category " + c.name + ": " + c.summary);
    for (const auto& o : c.options) {
      if (const auto it = added.find(o.name); it != added.end()) {
        if (it->second != o.type) throw std::logic_error("categories declare --" + o.name + " with two types");
        continue;
      }
      added.emplace(o.name, o.type);
      std::shared_ptr<cxxopts::Value> value;
      switch (o.type) {
        case Type::kString: value = cxxopts::value<std::string>(); break;
        case Type::kInt: value = cxxopts::value<int64_t>(); break;
        case Type::kDouble: value = cxxopts::value<double>(); break;
        case Type::kBool: value = cxxopts::value<bool>(); break;
      }
      if (!o.default_value.empty()) value->default_value(o.default_value);
      adder(o.name, o.help, value);
    }
  }
}

nlohmann::json option_value(const JobConfig& cfg, const generators::CategoryOption& o) {
  using Type = generators::CategoryOption::Type;
  switch (o.type) {
    case Type::kString: return cfg.get_string(o.name);
    case Type::kInt: return cfg.get_int(o.name);
    case Type::kDouble: return cfg.get_double(o.name);
    case Type::kBool: return cfg.get_bool(o.name);
  }
  return nullptr;
}

bool given(const JobConfig& cfg, const std::string& key) {
  return cfg.source(key) == "flag" || cfg.source(key) == "config";
}

// The options of `category` that are set, for the category to check. An option that only
// other categories use is a usage error: it would silently do nothing.
nlohmann::json category_options(const JobConfig& cfg, const generators::Category& category) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& o : category.options)
    if (cfg.source(o.name) != "unset") values[o.name] = option_value(cfg, o);
  for (const auto& other : generators::categories())
    for (const auto& o : other.options)
      if (!values.contains(o.name) && given(cfg, o.name)) {
        const nlohmann::json v = option_value(cfg, o);
        throw UsageError("--" + o.name + " " + (v.is_string() ? v.get<std::string>() : v.dump()) +
                         ": an option of category " + other.name + ", not of " + category.name);
      }
  return values;
}

// Parses and starts a backend given by `flag` before any work; a bad spec or a backend that
// cannot start is a usage error naming the flag.
std::unique_ptr<generators::SolverSource> solver_from(const std::string& flag, const std::string& spec,
                                                      const agents::BackendOptions& backend_options) {
  try {
    return generators::make_solver_source(spec, backend_options);
  } catch (const std::exception& e) {
    throw UsageError(flag + ": " + e.what());
  }
}

int synth_main(int argc, char** argv) {
  cxxopts::Options options("envforge synth",
                           "Synthesize environments (each with its task ladder), validate them in the "
                           "sandbox and record them in a corpus. Rerunning a job resumes it.");
  options.add_options()
      ("category", "environment category (" + generators::category_names() + ")",
       cxxopts::value<std::string>()->default_value("trip"))
      ("count", "number of environments", cxxopts::value<int64_t>()->default_value("20"))
      ("out", "corpus file (created if missing)", cxxopts::value<std::string>()->default_value("corpus.db"))
      ("seed", "job seed: same seed, same environments", cxxopts::value<int64_t>()->default_value("0"))
      ("jobs", "worker threads (default: CPU cores)", cxxopts::value<int64_t>()->default_value(default_jobs()))
      ("scratch-dir", "directory for temporary world files",
       cxxopts::value<std::string>()->default_value(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp"))
      ("shard", "make only shard I of N of the job (I/N: the items i with i % N == I); default: from "
       "SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with ENVFORGE_SHARD_COUNT, else 0/1",
       cxxopts::value<std::string>())
      ("json", "print the summary as one JSON object", cxxopts::value<bool>()->default_value("false"))
      ("quiet", "no progress output", cxxopts::value<bool>()->default_value("false"));
  options.add_options("Solver rollouts")
      ("solver", "solver model attempting every validated task: embedded:DIR, openai:BASE_URL#MODEL, "
       "scripted:FILE or none (no rollouts)", cxxopts::value<std::string>()->default_value("none"))
      ("rollouts", "attempts per task (K); pass@k is estimated from them",
       cxxopts::value<int64_t>()->default_value("4"))
      ("rollout-jobs", "attempts of one task run at a time (each in its own sandbox)",
       cxxopts::value<int64_t>()->default_value("4"))
      ("solver-max-turns", "model calls per attempt", cxxopts::value<int64_t>()->default_value("16"))
      ("keep-min-pass-rate", "keep policy, lower bound A: a task stays usable only if its pass rate is "
       "above A (at least A with --keep-inclusive); others become rejected, nothing is deleted",
       cxxopts::value<double>()->default_value("0"))
      ("keep-max-pass-rate", "keep policy, upper bound B: usable only if the pass rate is below B (at most "
       "B with --keep-inclusive). Defaults keep 0 < rate < 1: never-solved and always-solved tasks are "
       "filtered", cxxopts::value<double>()->default_value("1"))
      ("keep-inclusive", "make both bounds inclusive: keep A <= rate <= B (with A=0, B=1 nothing is filtered)",
       cxxopts::value<bool>()->default_value("false"))
      ("rollout-timeout", "seconds the solver has for one attempt, model calls and tools together; "
       "running out fails the attempt (0: no limit)", cxxopts::value<int64_t>()->default_value("1800"))
      ("shaped-rewards", "store the verifier's partial score as the reward instead of 1 for a pass and 0 "
       "otherwise (the partial score is kept with every attempt either way)",
       cxxopts::value<bool>()->default_value("false"));
  options.add_options("Model calls (every OpenAI-compatible --solver and --llm)")
      ("model-attempt-timeout", "seconds one HTTP attempt may take, end to end",
       cxxopts::value<int64_t>()->default_value("600"))
      ("model-idle-timeout", "seconds of silence after the server started answering before an attempt is "
       "cut (0: none)", cxxopts::value<int64_t>()->default_value("60"))
      ("model-call-timeout", "seconds one model call may take, every retry and wait included (0: none)",
       cxxopts::value<int64_t>()->default_value("1200"))
      ("model-max-reply-mb", "largest reply one attempt may receive, in MiB; a larger one fails the call",
       cxxopts::value<int64_t>()->default_value("64"));
  options.add_options("Generator model")
      ("llm", "the generator agent of categories that use one: embedded:DIR, openai:BASE_URL#MODEL, "
       "scripted:FILE or none", cxxopts::value<std::string>()->default_value("none"));
  add_category_options(options);
  add_config_option(options);
  add_logging_options(options);
  add_help_option(options);
  auto flags = parse_flags(options, argc, argv);
  if (!flags) return 0;
  JobConfig cfg = JobConfig::resolve(options, *flags);
  generators::SynthOptions o;
  o.category = cfg.get_string("category");
  const int64_t count = cfg.get_int("count"), seed = cfg.get_int("seed"), jobs = cfg.get_int("jobs");
  if (count < 1) throw UsageError("--count must be at least 1, got " + std::to_string(count));
  if (seed < 0) throw UsageError("--seed must not be negative, got " + std::to_string(seed));
  if (jobs < 1 || jobs > 256) throw UsageError("--jobs must be 1..256, got " + std::to_string(jobs));
  const generators::Category* category = generators::find_category(o.category);
  if (!category)
    throw UsageError("unknown --category '" + o.category + "' (available: " + generators::category_names() + ")");
  o.count = static_cast<uint64_t>(count);
  o.seed = static_cast<uint64_t>(seed);
  o.jobs = static_cast<int>(jobs);
  o.scratch_dir = cfg.get_string("scratch-dir");
  const Shard shard = resolve_shard(cfg.source("shard") == "unset" ? std::nullopt
                                                                   : std::optional(cfg.get_string("shard")));
  o.shard_index = static_cast<uint64_t>(shard.index);
  o.shard_count = static_cast<uint64_t>(shard.count);
  const uint64_t shard_items = (o.count + o.shard_count - 1 - std::min(o.shard_index, o.count)) / o.shard_count;
  const std::string out = cfg.get_string("out");
  const bool json_out = cfg.get_bool("json");
  const bool quiet = cfg.get_bool("quiet");

  // Solver rollouts: everything checked, and the backend started, before any work.
  const std::string solver_spec = cfg.get_string("solver");
  const int64_t rollouts = cfg.get_int("rollouts"), rollout_jobs = cfg.get_int("rollout-jobs");
  const int64_t max_turns = cfg.get_int("solver-max-turns");
  generators::KeepBand band{cfg.get_double("keep-min-pass-rate"), cfg.get_double("keep-max-pass-rate"),
                            cfg.get_bool("keep-inclusive")};
  if (rollouts < 1 || rollouts > 10000) throw UsageError("--rollouts must be 1..10000, got " + std::to_string(rollouts));
  if (rollout_jobs < 1 || rollout_jobs > 256)
    throw UsageError("--rollout-jobs must be 1..256, got " + std::to_string(rollout_jobs));
  if (max_turns < 1 || max_turns > 1000)
    throw UsageError("--solver-max-turns must be 1..1000, got " + std::to_string(max_turns));
  if (!(band.min >= 0 && band.min <= 1) || !(band.max >= 0 && band.max <= 1))
    throw UsageError("--keep-min-pass-rate and --keep-max-pass-rate must be within 0..1, got " + band.describe());
  if (band.empty())
    throw UsageError("the keep band " + band.describe() + " keeps no pass rate (--keep-min-pass-rate, "
                     "--keep-max-pass-rate, --keep-inclusive)");
  agents::BackendOptions backend_options;
  {
    const int64_t attempt_s = cfg.get_int("model-attempt-timeout"), idle_s = cfg.get_int("model-idle-timeout");
    const int64_t call_s = cfg.get_int("model-call-timeout"), reply_mb = cfg.get_int("model-max-reply-mb");
    const int64_t rollout_s = cfg.get_int("rollout-timeout");
    const int64_t day = 86400;
    if (attempt_s < 1 || attempt_s > day) throw UsageError("--model-attempt-timeout must be 1..86400 seconds");
    if (idle_s < 0 || idle_s > day) throw UsageError("--model-idle-timeout must be 0..86400 seconds");
    if (call_s < 0 || call_s > day) throw UsageError("--model-call-timeout must be 0..86400 seconds");
    if (rollout_s < 0 || rollout_s > day) throw UsageError("--rollout-timeout must be 0..86400 seconds");
    if (reply_mb < 1 || reply_mb > 4096) throw UsageError("--model-max-reply-mb must be 1..4096");
    auto& oa = backend_options.openai;
    oa.request_timeout = std::chrono::seconds(attempt_s);
    oa.idle_timeout = std::chrono::seconds(idle_s);
    oa.call_timeout = std::chrono::seconds(call_s);
    oa.max_reply_bytes = static_cast<std::size_t>(reply_mb) << 20;
    o.rollouts.rollout.time_limit = std::chrono::seconds(rollout_s);
    o.rollouts.shaped_rewards = cfg.get_bool("shaped-rewards");
  }
  auto solver = solver_from("--solver", solver_spec, backend_options);
  if (!solver)
    for (const char* k : {"rollouts", "rollout-jobs", "solver-max-turns", "keep-min-pass-rate",
                          "keep-max-pass-rate", "keep-inclusive", "rollout-timeout", "shaped-rewards"})
      if (cfg.source(k) == "flag" || cfg.source(k) == "config")
        throw UsageError(std::string("--") + k + " needs a solver (--solver SPEC)");
  if (solver) {
    o.solver = solver.get();
    o.rollouts.attempts = static_cast<int>(rollouts);
    o.rollouts.parallel = static_cast<int>(std::min(rollout_jobs, rollouts));
    o.rollouts.keep = band;
    o.rollouts.rollout.agent.budget.max_turns = static_cast<int>(max_turns);
    o.rollouts.scratch_dir = o.scratch_dir;
    o.rollout_config = {{"solver", solver->spec()}, {"attempts", rollouts}, {"keep_band", band.describe()},
                        {"max_turns", max_turns}};
    if (o.rollouts.shaped_rewards) o.rollout_config["rewards"] = "shaped";
  }

  // The category: its options and generator model checked, and the job started, before any work.
  const std::string llm_spec = cfg.get_string("llm");
  std::unique_ptr<agents::Backend> llm;
  agents::BackendSpec llm_parsed;
  try {
    llm_parsed = agents::parse_backend_spec(llm_spec);
    llm = agents::make_backend(llm_parsed, backend_options);
  } catch (const std::exception& e) {
    throw UsageError(std::string("--llm: ") + e.what());
  }
  o.category_options = category_options(cfg, *category);
  if (llm && category->llm != generators::GeneratorModelUse::kNone) {
    o.llm.shared = llm.get();
    // A replayed script is the generator of one item: every item replays it from the start.
    if (llm_parsed.kind == agents::BackendSpec::Kind::kScripted)
      o.llm.per_item = [llm_parsed, backend_options] { return agents::make_backend(llm_parsed, backend_options); };
  }
  const auto job = generators::start_category(o.category, {.options = o.category_options, .llm = o.llm,
                                                          .scratch_dir = o.scratch_dir});
  o.job = job.get();
  setup_logging(logging_options(*flags));
  if (llm && category->llm == generators::GeneratorModelUse::kNone)
    spdlog::warn("synth: --llm is not used by category {}", o.category);

  try {
    sandbox::Sandbox::shared();  // start the launcher while this process is small
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge synth: the sandbox cannot start: %s\n", e.what());
    return 1;
  }
  try {
    data::Corpus corpus = data::Corpus::open(out);
    data::RunRecord run;
    run.command = "synth";
    run.config = cfg.values();
    if (o.solver) run.config["rollout_config"] = o.rollout_config;
    run.envforge_version = kVersion;
    run.git_revision = git_revision();
    run.host = host_name();
    run.started_at_ms = now_ms();
    run.shard_index = static_cast<int>(shard.index);
    run.shard_count = static_cast<int>(shard.count);
    o.run_id = corpus.begin_run(run);
    if (shard.count > 1)
      spdlog::info("synth: shard {} (from {}): {} of the job's {} environment(s)", shard.text(), shard.source,
                   shard_items, count);
    spdlog::info("synth: {} {} environment(s), seed {}, {} worker(s), corpus {}", count, o.category, seed, jobs, out);
    if (o.solver)
      spdlog::info("synth: {} rollout(s) per validated task by {}, {} at a time, keep pass rates {}",
                   o.rollouts.attempts, o.solver->spec(), o.rollouts.parallel, o.rollouts.keep.describe());

    ProgressOptions po;
    po.label = "synth";
    po.total = shard_items;
    po.unit = "environments";
    po.enabled = !quiet;
    Progress progress(po);
    auto python = generators::sandbox_python_factory();
    const auto summary = generators::run_synth(o, corpus, *python, [&](const generators::ItemOutcome& item) {
      if (!item.error.empty()) spdlog::error("{}", item.error);
      else if (item.recorded)
        spdlog::debug("work item {}: {} task(s), {} usable, {} rollout(s), {} passed, {} filtered by the keep "
                      "policy", item.index, item.tasks, item.usable, item.rollouts, item.passes, item.filtered);
      progress.advance();
    });
    progress.finish();
    corpus.end_run(o.run_id, now_ms(), summary.to_json());
    if (json_out) {
      nlohmann::json j = summary.to_json();
      j["corpus"] = out;
      j["run_id"] = o.run_id;
      std::printf("%s\n", j.dump().c_str());
    } else {
      print_summary(out, summary);
    }
    return summary.failed == 0 ? 0 : 1;
  } catch (const data::CorpusError& e) {
    std::fprintf(stderr, "envforge synth: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int cmd_synth(int argc, char** argv) { return run_with_usage_errors("synth", synth_main, argc, argv); }

}  // namespace envforge::cli
