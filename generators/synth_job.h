// `envforge synth` as a library: runs the work items of a job on a thread pool,
// skips the ones a corpus already holds (resume), records each new one in one
// transaction, and sums up what was made. What a work item is belongs to its category
// (generators/category.h); nothing here knows one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "generators/category.h"
#include "generators/python_exec.h"
#include "generators/rollout_stage.h"
#include "generators/solver_source.h"
#include "generators/stage_times.h"

namespace envforge::generators {

struct SynthOptions {
  std::string category = "trip";
  // The category's own options, {name: value} (see Category::options), and the job's
  // generator model (--llm) for categories that use one.
  nlohmann::json category_options = nlohmann::json::object();
  GeneratorModel llm;
  // The category already started by the caller (the CLI starts it before any work so that a
  // bad option is a usage error); null: run_synth starts `category` itself.
  CategoryJob* job = nullptr;
  uint64_t count = 20;     // environments (work items)
  uint64_t seed = 0;
  int jobs = 1;            // worker threads
  std::string scratch_dir = "/tmp";
  std::string run_id;      // provenance written with each item
  // Shard I of N makes the items i with i % N == I (N shards make the whole job).
  uint64_t shard_index = 0, shard_count = 1;

  // Solver rollouts of every task that passed validation; none when `solver` is null.
  SolverSource* solver = nullptr;
  RolloutStageOptions rollouts;
  // What decides the rollouts of an item ({"solver", "attempts", "keep_band"}); a resumed job
  // compares it with the config of the run that recorded a skipped item, and says so when
  // they differ (the item keeps what it was recorded with).
  nlohmann::json rollout_config = nlohmann::json::object();
};

// What happened to one work item, reported as soon as it is done.
struct ItemOutcome {
  uint64_t index = 0;
  bool skipped = false;    // already in the corpus
  bool recorded = false;
  std::string error;       // non-empty: the item failed and was not recorded
  size_t tasks = 0, usable = 0;
  size_t rollouts = 0, passes = 0, filtered = 0;  // solver rollouts of its tasks
};

struct SynthSummary {
  uint64_t environments = 0;          // recorded by this run
  uint64_t skipped = 0;               // already present (resume)
  uint64_t failed = 0;
  uint64_t tasks = 0, usable = 0;
  std::map<int, uint64_t> tasks_per_level, usable_per_level;
  uint64_t validations = 0, validations_as_expected = 0;
  std::vector<std::string> errors;    // one line per failed item
  StageTimes times;                   // the category's stages and "record", summed over workers
  std::string solver = "none";
  RolloutStageStats rollouts;         // summed over recorded items
  // Skipped items recorded by a run whose rollout config differs from this run's.
  uint64_t skipped_other_rollout_config = 0;
  double wall_s = 0;

  double validation_pass_rate() const;
  nlohmann::json to_json() const;
};

// Throws std::invalid_argument when the category cannot start (see start_category). Corpus
// errors while recording are fatal (rethrown after the workers stop); a failing work item is not.
SynthSummary run_synth(const SynthOptions& options, data::Corpus& corpus, PythonExecutorFactory& python,
                       const std::function<void(const ItemOutcome&)>& on_item = {});

}  // namespace envforge::generators
