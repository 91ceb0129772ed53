// Merging corpora: the shards of a job run on many machines become one corpus.
//
// Records are keyed by their content ids, so a merge is idempotent (merging a
// shard twice adds nothing) and the order of the shards does not matter for
// disjoint shards. A record whose id is already present with different content
// is a conflict: it is reported and the present record is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace envforge::data {

struct MergeOptions {
  bool check_integrity = true;   // PRAGMA quick_check of every shard before anything is written
  size_t max_conflicts_listed = 100;
  // Called before each shard is merged (progress output).
  std::function<void(const std::string& shard, size_t index, size_t count)> on_shard;
  // Fault injection for crash tests: called inside a shard's transaction before COMMIT.
  std::function<void(const std::string& shard)> before_commit;
  // Fault injection: called inside the transaction that builds a new output's indexes.
  std::function<void()> before_indexes;
};

// Same id, different content: the record in the output was kept.
struct MergeConflict {
  std::string shard;
  std::string kind;     // "environment", "task", "work item", "run", "blob"
  std::string id;       // its id (a work item's key, a blob's sha256)
  std::string detail;   // which fields differ
};

// What one shard brought; "present" counts records the output already held.
struct ShardMergeStats {
  std::string path;
  int64_t environments_added = 0, environments_present = 0;
  int64_t tasks_added = 0, tasks_present = 0;
  int64_t validations_added = 0, rollouts_added = 0;
  int64_t work_items_added = 0, runs_added = 0, audits_added = 0, blobs_added = 0;
  int64_t conflicts = 0;
  double seconds = 0;
};

struct MergeReport {
  std::string out;
  std::vector<ShardMergeStats> shards;
  std::vector<MergeConflict> conflicts;   // at most max_conflicts_listed
  int64_t conflict_count = 0;             // all of them
  double check_seconds = 0;               // checking the inputs
  double index_seconds = 0;               // building a new output's secondary indexes
  double seconds = 0;                     // the whole merge
};

// Merges `shards` into the corpus `out` (created if missing). Every shard and
// the output are checked first (an envforge corpus of this schema version, not
// corrupt, not the output itself); any problem raises CorpusError naming the
// file and nothing is written. A new output is built beside it (OUT.merging)
// and renamed into place when complete, so an interrupted merge leaves no
// output and rerunning it starts over; into an existing output each shard is
// merged in one transaction, so an interrupted merge leaves whole shards merged
// and rerunning it completes it. An error while merging names the shard.
// Children of a task (validations, rollouts) come with the task the first time
// it is merged, as with Corpus::record_work_item.
MergeReport merge_corpora(const std::string& out, const std::vector<std::string>& shards,
                          const MergeOptions& options = {});

}  // namespace envforge::data
