#include "generators/synth_job.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <spdlog/spdlog.h>

#include "data/content_id.h"
#include "generators/code/work_item.h"
#include "generators/code_interpreter/work_item.h"
#include "generators/trip/world.h"

// LLM-authored environments are built by generators/authored/; the category exists in builds
// that have it.
#if __has_include("generators/authored/authored_item.h")
#include "generators/authored/authored_item.h"
#define ENVFORGE_SYNTH_AUTHORED 1
#else
#define ENVFORGE_SYNTH_AUTHORED 0
#endif

namespace envforge::generators {

using Clock = std::chrono::steady_clock;

double SynthSummary::validation_pass_rate() const {
  return validations == 0 ? 0.0 : static_cast<double>(validations_as_expected) / static_cast<double>(validations);
}

nlohmann::json SynthSummary::to_json() const {
  nlohmann::json per_level = nlohmann::json::object(), usable_level = nlohmann::json::object();
  for (const auto& [l, n] : tasks_per_level) per_level[std::to_string(l)] = n;
  for (const auto& [l, n] : usable_per_level) usable_level[std::to_string(l)] = n;
  return {{"environments", environments},
          {"skipped", skipped},
          {"failed", failed},
          {"tasks", tasks},
          {"usable", usable},
          {"tasks_per_level", per_level},
          {"usable_per_level", usable_level},
          {"validations", validations},
          {"validation_pass_rate", validation_pass_rate()},
          {"errors", errors},
          {"stage_ms", {{"world", times.world_ms}, {"solve", times.solve_ms},
                        {"validate", times.validate_ms}, {"record", times.record_ms},
                        {"rollouts", rollouts.ms}}},
          {"rollouts", [&] {
             nlohmann::json r = rollouts.to_json();
             r["solver"] = solver;
             r.erase("ms");
             return r;
           }()},
          {"skipped_other_rollout_config", skipped_other_rollout_config},
          {"wall_s", wall_s}};
}

std::vector<std::string> synth_categories() {
  std::vector<std::string> out{"trip", "code", "code_interpreter"};
  if (ENVFORGE_SYNTH_AUTHORED) out.push_back("authored");
  return out;
}

namespace {

std::string generator_version(const std::string& category) {
#if ENVFORGE_SYNTH_AUTHORED
  if (category == "authored") return authored::kGeneratorVersion;
#endif
  if (category == "code") return code::kGeneratorVersion;
  if (category == "code_interpreter") return code_interpreter::kGeneratorVersion;
  return trip::kGeneratorVersion;
}

data::WorkItem build_item(const SynthOptions& o, uint64_t index, PythonExecutorFactory& python,
                          trip::StageTimes& times) {
#if ENVFORGE_SYNTH_AUTHORED
  if (o.category == "authored") {
    authored::AuthoredOptions ao;
    ao.description = o.description;
    ao.hardening_rounds = o.hardening_rounds;
    ao.scratch_dir = o.scratch_dir;
    std::unique_ptr<agents::Backend> own = o.llm_per_item ? o.llm_per_item() : nullptr;
    return authored::build_work_item(own ? *own : *o.llm, o.seed, index, ao, python, times);
  }
#endif
  if (o.category == "code") {
    code::CodeOptions co;
    co.scratch_dir = o.scratch_dir;
    return code::build_work_item(o.seed, index, python, co, times);
  }
  if (o.category == "code_interpreter") {
    code_interpreter::InterpreterOptions io;
    io.scratch_dir = o.scratch_dir;
    return code_interpreter::build_work_item(o.seed, index, python, io, times);
  }
  trip::WorkItemOptions wo;
  wo.scratch_dir = o.scratch_dir;
  return trip::build_work_item(o.seed, index, python, wo, times);
}

}  // namespace

SynthSummary run_synth(const SynthOptions& o, data::Corpus& corpus, PythonExecutorFactory& python,
                       const std::function<void(const ItemOutcome&)>& on_item) {
  bool known = false;
  std::string available;
  for (const auto& c : synth_categories()) {
    known = known || c == o.category;
    available += (available.empty() ? "" : ", ") + c;
  }
  if (!known) throw std::invalid_argument("unknown category '" + o.category + "' (available: " + available + ")");
  if (o.category == "authored" && !o.llm && !o.llm_per_item)
    throw std::invalid_argument("category authored needs a generator model (--llm)");
  if (o.jobs < 1) throw std::invalid_argument("jobs must be at least 1");
  const auto start = Clock::now();
  SynthSummary sum;
  if (o.solver) sum.solver = o.solver->spec();
  const nlohmann::json no_rollouts = {{"solver", "none"}};
  const nlohmann::json& this_config = o.solver ? o.rollout_config : no_rollouts;
  std::map<std::string, nlohmann::json> run_configs;  // run id -> its rollout config
  // Under `mu`: does the run that recorded `key` agree with this one about rollouts?
  auto same_rollout_config = [&](const std::string& key) {
    const auto run_id = corpus.work_item_run(key);
    if (!run_id || run_id->empty()) return true;  // no provenance to compare with
    auto it = run_configs.find(*run_id);
    if (it == run_configs.end()) {
      const auto run = corpus.run(*run_id);
      nlohmann::json c = no_rollouts;
      if (run && run->config.is_object() && run->config.contains("rollout_config"))
        c = run->config["rollout_config"];
      it = run_configs.emplace(*run_id, c).first;
      if (c != this_config)
        spdlog::warn("synth: work items recorded by run {} used rollouts {}, this run asks for {}; "
                     "they are skipped and keep what they were recorded with",
                     run_id->substr(0, 12), c.dump(), this_config.dump());
    }
    return it->second == this_config;
  };
  std::mutex mu;              // guards corpus, sum and on_item
  std::exception_ptr fatal;   // a corpus error stops the job
  std::atomic<bool> stop{false};

  auto work = [&](uint64_t index) {
    if (stop) return;
    ItemOutcome out;
    out.index = index;
    const std::string key = data::work_item_key(o.category, o.seed, index, generator_version(o.category));
    {
      std::lock_guard lock(mu);
      try {
        out.skipped = corpus.has_work_item(key);
      } catch (...) {
        if (!fatal) fatal = std::current_exception();
        stop = true;
        return;
      }
      if (out.skipped) {
        ++sum.skipped;
        try {
          sum.skipped_other_rollout_config += !same_rollout_config(key);
        } catch (const std::exception& e) {
          spdlog::warn("synth: cannot read the provenance of work item {}: {}", index, e.what());
        }
        if (on_item) on_item(out);
        return;
      }
    }
    trip::StageTimes times;
    data::WorkItem item;
    RolloutStageStats rollouts;
    try {
      item = build_item(o, index, python, times);
      item.run_id = o.run_id;
    } catch (const std::exception& e) {
      out.error = "work item " + std::to_string(index) + ": " + e.what();
    }
    if (out.error.empty() && o.solver) {
      try {
        rollouts = run_rollout_stage(item, *o.solver, o.rollouts);
      } catch (const std::exception& e) {
        out.error = "work item " + std::to_string(index) + ": rollouts: " + e.what();
      }
    }
    std::lock_guard lock(mu);
    if (out.error.empty()) {
      const auto t0 = Clock::now();
      try {
        out.recorded = corpus.record_work_item(item);
      } catch (...) {
        if (!fatal) fatal = std::current_exception();
        stop = true;
        return;
      }
      times.record_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (out.recorded) {
        ++sum.environments;
        for (const auto& t : item.tasks) {
          const bool ok = t.status == data::TaskStatus::kUsable;
          ++sum.tasks;
          ++sum.tasks_per_level[t.difficulty];
          sum.usable += ok;
          sum.usable_per_level[t.difficulty] += ok;
          out.usable += ok;
          for (const auto& v : t.validations) {
            ++sum.validations;
            sum.validations_as_expected += v.as_expected;
          }
        }
        out.tasks = item.tasks.size();
        out.rollouts = rollouts.attempts;
        out.passes = rollouts.passes;
        out.filtered = rollouts.filtered;
        sum.rollouts += rollouts;
      } else {
        ++sum.skipped;  // another writer recorded it first
        out.skipped = true;
      }
    } else {
      ++sum.failed;
      sum.errors.push_back(out.error);
    }
    sum.times += times;
    if (on_item) on_item(out);
  };

  boost::asio::thread_pool pool(static_cast<size_t>(o.jobs));
  for (uint64_t i = 0; i < o.count; ++i) boost::asio::post(pool, [&, i] { work(i); });
  pool.join();
  sum.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (fatal) std::rethrow_exception(fatal);
  return sum;
}

}  // namespace envforge::generators
