#include "generators/synth_job.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <spdlog/spdlog.h>

#include "data/content_id.h"

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
          {"stage_ms", [&] {
             nlohmann::json ms = nlohmann::json::object();
             for (const auto& [stage, v] : times.stages()) ms[stage] = v;
             ms["rollouts"] = rollouts.ms;
             return ms;
           }()},
          {"rollouts", [&] {
             nlohmann::json r = rollouts.to_json();
             r["solver"] = solver;
             r.erase("ms");
             return r;
           }()},
          {"skipped_other_rollout_config", skipped_other_rollout_config},
          {"wall_s", wall_s}};
}

SynthSummary run_synth(const SynthOptions& o, data::Corpus& corpus, PythonExecutorFactory& python,
                       const std::function<void(const ItemOutcome&)>& on_item) {
  if (o.jobs < 1) throw std::invalid_argument("jobs must be at least 1");
  std::unique_ptr<CategoryJob> own_job;
  if (!o.job) own_job = start_category(o.category, {.options = o.category_options, .llm = o.llm,
                                                    .scratch_dir = o.scratch_dir});
  CategoryJob& job = o.job ? *o.job : *own_job;
  const std::string version = job.version();
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

  // A built work item waiting to be recorded; it lives on its worker's stack,
  // and the worker waits on `mu` until the item is marked done.
  struct Finished {
    data::WorkItem item;
    ItemOutcome out;
    StageTimes times;
    RolloutStageStats rollouts;
    bool done = false;  // under `mu`
  };
  std::mutex queue_mu;             // guards queue
  std::vector<Finished*> queue;
  // Under `mu`: the summary's share of one recorded (or found recorded) item.
  auto account = [&](Finished& f, const data::WorkItem& item, bool recorded, double record_ms) {
    ItemOutcome& out = f.out;
    f.times.add("record", record_ms);
    out.recorded = recorded;
    if (recorded) {
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
      out.rollouts = f.rollouts.attempts;
      out.passes = f.rollouts.passes;
      out.filtered = f.rollouts.filtered;
      sum.rollouts += f.rollouts;
    } else {
      ++sum.skipped;  // another writer recorded it first
      out.skipped = true;
    }
    sum.times += f.times;
    if (on_item) on_item(out);
  };
  // Under `mu`: records every item waiting. A batch that fails is recorded
  // again item by item, so that only the bad item is lost; its error stops
  // the job.
  auto record_waiting = [&] {
    std::vector<Finished*> batch;
    {
      std::lock_guard q(queue_mu);
      batch.swap(queue);
    }
    std::vector<data::WorkItem> items;
    items.reserve(batch.size());
    for (Finished* f : batch) items.push_back(std::move(f->item));
    std::vector<bool> added;
    const auto t0 = Clock::now();
    try {
      corpus.record_work_items(items, &added);
    } catch (...) {
      if (batch.size() == 1 && !fatal) fatal = std::current_exception();
      added.clear();
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    for (size_t i = 0; i < batch.size(); ++i) {
      Finished& f = *batch[i];
      f.done = true;
      if (!added.empty()) {
        account(f, items[i], added[i], ms / static_cast<double>(batch.size()));
        continue;
      }
      if (batch.size() > 1) {
        const auto t1 = Clock::now();
        try {
          const bool recorded = corpus.record_work_item(items[i]);
          account(f, items[i], recorded, std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
          continue;
        } catch (...) {
          if (!fatal) fatal = std::current_exception();
        }
      }
      stop = true;  // not recorded: the job ends with the corpus error
    }
  };

  auto work = [&](uint64_t index) {
    if (stop) return;
    ItemOutcome out;
    out.index = index;
    const std::string key = data::work_item_key(o.category, o.seed, index, version);
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
    StageTimes times;
    data::WorkItem item;
    RolloutStageStats rollouts;
    try {
      item = job.build(o.seed, index, python, times);
      item.key = key;  // the resume check above looked for this one
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
    if (!out.error.empty()) {
      std::lock_guard lock(mu);
      ++sum.failed;
      sum.errors.push_back(out.error);
      sum.times += times;
      if (on_item) on_item(out);
      return;
    }
    // Group commit: the item waits in `queue`; whoever holds the corpus next
    // records everything waiting in one transaction, so many workers cost
    // one commit instead of one each.
    Finished mine{std::move(item), out, times, rollouts};
    {
      std::lock_guard q(queue_mu);
      queue.push_back(&mine);
    }
    std::lock_guard lock(mu);
    if (!mine.done) record_waiting();
  };

  boost::asio::thread_pool pool(static_cast<size_t>(o.jobs));
  for (uint64_t i = o.shard_index; i < o.count; i += o.shard_count) boost::asio::post(pool, [&, i] { work(i); });
  pool.join();
  sum.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (fatal) std::rethrow_exception(fatal);
  return sum;
}

}  // namespace envforge::generators
