// The corpus: one SQLite file holding environments, tasks, validations,
// rollouts, audits and run provenance. All SQL of envforge lives in data/.
//
// Thread-safety: one Corpus object must not be used by two threads at once;
// several Corpus objects (threads or processes) may share one file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "data/records.h"

namespace envforge::data {

// The schema version this build writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 4;
// PRAGMA application_id of envforge corpora ("EFRG").
inline constexpr int32_t kApplicationId = 0x45465247;

// Any failure to open, read or write a corpus. The message names the file.
class CorpusError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OpenOptions {
  bool read_only = false;        // never create, migrate or write
  int busy_timeout_ms = 30000;   // wait this long for another writer
  bool check_integrity = false;  // run PRAGMA quick_check before use (reads the whole file)
  // Fault injection for crash tests: called inside a work item's transaction,
  // after all its rows are written and before COMMIT.
  std::function<void(const std::string& key)> before_commit;
};

// Counts for `envforge audit`.
struct AuditSummary {
  int64_t environments = 0;
  int64_t tasks = 0;
  int64_t usable = 0;
  int64_t rejected = 0;
  int64_t validations = 0;
  int64_t validations_failed = 0;     // verdict differed from what was expected
  int64_t rollouts = 0;
  int64_t runs = 0;
  int64_t audits = 0;
  std::map<std::string, int64_t> environments_by_category;
  std::map<std::string, int64_t> tasks_by_category;
  std::map<int, int64_t> tasks_by_difficulty;
  std::map<std::string, int64_t> tasks_by_status;
  std::map<std::string, int64_t> reject_reasons;           // tasks.reject_reason -> count
  std::map<std::string, int64_t> validation_failures;      // check: reason -> count
  struct Duplicate {
    std::string content_hash;
    int64_t count = 0;                                    // tasks sharing it (>= 2)
  };
  std::vector<Duplicate> duplicates;                      // most repeated first, at most 100
  int64_t duplicate_groups = 0;                           // all groups, not only the listed ones
  // Solver rollouts. A task's pass rate is metadata.rollouts.pass_rate as the synth job
  // recorded it (attempts that errored for reasons not the solver's own left out), else the
  // share of its rollouts that passed.
  struct RolloutStats {
    int64_t tasks = 0;                                    // tasks with rollouts
    int64_t scored_tasks = 0;                             // ... with a pass rate
    double mean_pass_rate = 0;                            // over scored tasks
    int64_t kept = 0;                                     // tasks with rollouts still usable
    int64_t filtered = 0;                                 // rejected by the keep policy
    std::map<int, std::pair<int64_t, double>> by_difficulty;  // level -> (scored tasks, mean pass rate)
    std::map<std::string, int64_t> rollouts_by_model;
  } rollout_stats;
};

// A count map of AuditSummary (or any key -> count map) as a JSON object; numeric keys as text.
template <typename Map>
nlohmann::json counts_json(const Map& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(k)>, std::string>)
      j[k] = v;
    else
      j[std::to_string(k)] = v;
  }
  return j;
}

// Reject reasons the synth keep policy writes start with this.
inline constexpr const char* kKeepPolicyReasonPrefix = "keep policy:";

// One line of `envforge export`: a task with what a trainer needs of its environment.
struct ExportRow {
  TaskRecord task;               // without validations/rollouts
  std::string category;
  std::string system_prompt;
  std::vector<ToolRecord> tools;
  uint64_t seed = 0;
  std::string generator_name;
  std::string generator_version;
};

struct TaskFilter {
  bool usable_only = false;
  std::string category;          // empty: any
  std::optional<int> difficulty;
};

class Corpus {
 public:
  // Opens (creating and migrating if needed) the corpus at `path`. A file that is
  // not an envforge corpus (not SQLite, another application's database, a newer
  // schema, corrupt) raises CorpusError and is left byte-for-byte untouched.
  static Corpus open(const std::string& path, const OpenOptions& options = {});

  Corpus(Corpus&&) noexcept;
  Corpus& operator=(Corpus&&) noexcept;
  ~Corpus();

  const std::string& path() const;
  int schema_version() const;

  // --- writes (each is one transaction) -----------------------------------
  // Records the start of a run; returns its id (content id of the record).
  std::string begin_run(RunRecord run);
  void end_run(const std::string& run_id, int64_t ended_at_ms, const nlohmann::json& summary);

  // Writes a whole work item atomically. Returns false (and writes nothing)
  // when an item with the same key is already recorded. Ids are filled in.
  bool record_work_item(const WorkItem& item);
  // Several work items in one transaction (all or none); returns how many were
  // new. `added`, when given, gets one flag per item: whether it was new.
  size_t record_work_items(std::span<const WorkItem> items, std::vector<bool>* added = nullptr);

  void record_audit(const AuditRecord& audit);
  // Rollouts of tasks already in the corpus (e.g. episodes played through `envforge serve`),
  // all in one transaction; each names its task in task_id. Rows whose id is already recorded
  // are skipped; an unknown task id throws CorpusError and writes nothing. Returns rows added.
  size_t record_rollouts(std::span<const RolloutRecord> rollouts);

  // --- reads ----------------------------------------------------------------
  bool has_work_item(const std::string& key) const;
  // The run that recorded the work item (empty when it was recorded without one).
  std::optional<std::string> work_item_run(const std::string& key) const;
  std::vector<std::string> work_item_keys() const;
  std::optional<RunRecord> run(const std::string& id) const;
  std::optional<EnvironmentRecord> environment(const std::string& id) const;
  std::optional<TaskRecord> task(const std::string& id, bool with_children = true) const;
  std::vector<TaskRecord> tasks_of(const std::string& environment_id) const;  // no children
  std::vector<AuditRecord> audits_of_task(const std::string& task_id) const;
  int64_t count_tasks(const TaskFilter& filter = {}) const;
  AuditSummary audit_summary() const;
  // Streams tasks in a stable order (environment id, difficulty, task id).
  void for_each_export_row(const TaskFilter& filter,
                           const std::function<void(const ExportRow&)>& fn) const;

  struct Impl;

 private:
  explicit Corpus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace envforge::data
