// What the audit web view (server/audit_web) reads from and writes to a corpus: the overview,
// pages of tasks under filters, one task with all it holds, its world database, and audit
// verdicts. Per-task pass rates live in a temporary table computed once and topped up when
// rollouts are added, so filtering by pass rate never aggregates the rollouts table again.
//
// Thread-safe: every call takes the store's lock (one connection).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"

namespace envforge::data {

class Connection;

// Verdicts the web view records in `audits` (an auditor's judgement, or a status change).
inline constexpr const char* kAuditGood = "good";
inline constexpr const char* kAuditBad = "bad";
inline constexpr const char* kAuditReject = "reject";
inline constexpr const char* kAuditRestore = "restore";
// tasks.reject_reason of a task an auditor rejected starts with this.
inline constexpr const char* kAuditReasonPrefix = "audit: ";

struct AuditTaskFilter {
  std::string category;             // empty: any
  std::optional<int> difficulty;
  std::string status;               // "", "usable" or "rejected"
  bool no_rollouts = false;         // only tasks without rollouts
  std::optional<double> pass_min;   // pass rate in [pass_min, pass_max] (only tasks with rollouts)
  std::optional<double> pass_max;
  std::string text;                 // substring of the prompt (case-insensitive for ASCII)
  std::string content_hash;         // one duplicate group
  std::string audit;                // "", "good", "bad" (latest judgement) or "none" (never judged)
};

struct AuditTaskRow {
  int64_t row = 0;                  // the keyset cursor of paging
  std::string id;
  std::string environment_id;
  std::string category;
  int difficulty = 1;
  std::string status;
  std::string reject_reason;
  std::string prompt_head;          // the prompt's first 240 characters
  std::optional<double> pass_rate;
  int64_t rollouts = 0;
  std::string last_judgement;       // latest good/bad verdict, empty when never judged
};

struct AuditOverview {
  AuditSummary summary;
  // Pass-rate histograms of tasks with rollouts: level -> 10 bins of width 0.1 (1.0 in the last).
  std::map<int, std::array<int64_t, 10>> pass_histograms;
  std::map<std::string, int64_t> audits_by_verdict;
};

struct AuditVerdictResult {
  enum Outcome { kRecorded, kNoTask, kConflict } outcome = kRecorded;
  std::string message;              // why, when not recorded
  AuditRecord audit;                // the row written
  std::string status;               // the task's status afterwards
  std::string reject_reason;
};

class AuditStore {
 public:
  // Opens the corpus (which must exist and be an envforge corpus) for reading and for audit
  // writes. Throws CorpusError.
  explicit AuditStore(const std::string& corpus_path);
  ~AuditStore();

  // Counts as `envforge audit` defines them; rollout figures come from the pass-rate table.
  // Kept and reused until the corpus changes.
  AuditOverview overview();
  // Tasks matching `filter` with row > after_row, in row order, at most `limit`; `total` gets
  // how many match in all.
  std::vector<AuditTaskRow> list(const AuditTaskFilter& filter, int64_t after_row, int limit, int64_t& total);
  // Every matching task, in row order (for export); stops when fn returns false.
  void for_each(const AuditTaskFilter& filter, const std::function<bool(const AuditTaskRow&, const std::string& prompt)>& fn);

  struct TaskView {
    TaskRecord task;                // with validations and rollouts
    EnvironmentRecord environment;  // without the world bytes
    std::optional<double> pass_rate;
    std::vector<AuditRecord> audits;
    nlohmann::json world_tables = nlohmann::json::array();  // [{name, rows, columns: [...]}]
  };
  std::optional<TaskView> task(const std::string& id);

  // Rows of one table of a task's world database, opened read-only in memory. Cells longer
  // than max_cell characters are cut (marked), blobs shown by size. nullopt: no such task;
  // throws std::invalid_argument when the table does not exist.
  std::optional<nlohmann::json> world_rows(const std::string& task_id, const std::string& table, int64_t offset,
                                           int limit, size_t max_cell);

  // Records a verdict (kAuditGood/Bad/Reject/Restore) by `who`; reject and restore change the
  // task's status in the same transaction. Nothing is ever deleted.
  AuditVerdictResult record_verdict(const std::string& task_id, const std::string& who, const std::string& verdict,
                                    const std::string& note);

 private:
  void refresh_pass_rates();
  std::optional<double> pass_rate_of(int64_t task_row);

  std::mutex mu_;
  std::string path_;
  Corpus corpus_;
  std::unique_ptr<Connection> conn_;
  int64_t rollouts_seen_ = -1;  // max(rollouts.row) the pass-rate table covers
  int64_t last_ms_ = 0;         // audit timestamps strictly increase (their ids are content ids)
  std::map<std::string, int64_t> rollouts_by_model_;  // topped up with the pass rates
  int64_t writes_ = 0;          // verdicts written through this store
  // The last overview, reused while the corpus is unchanged (same data_version, no own write).
  std::optional<AuditOverview> overview_;
  int64_t overview_version_ = -1;
  int64_t overview_writes_ = -1;
};

}  // namespace envforge::data
