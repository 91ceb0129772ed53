// Merging shard corpora: the union of disjoint shards equals the unsharded
// corpus, merging is idempotent, conflicts are reported and never overwrite,
// and a bad input (newer schema, garbage, corrupt pages, the output itself)
// is refused before anything is written.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "data/corpus.h"
#include "data/corpus_merge.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::query;
using testing::query_int;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

sample::Shape merge_shape() {
  sample::Shape shape;
  shape.rollouts_per_task = 2;
  return shape;
}

// A corpus holding items [from, to) recorded by one run of shard `index`/`count`.
void make_merge_shard(const std::string& path, uint64_t from, uint64_t to, int index = 0, int count = 1) {
  Corpus c = Corpus::open(path);
  RunRecord run;
  run.command = "synth";
  run.config = {{"count", to - from}};
  run.host = "node" + std::to_string(index);
  run.shard_index = index;
  run.shard_count = count;
  run.started_at_ms = 1700000000000 + index;
  std::string run_id = c.begin_run(run);
  std::vector<WorkItem> items;
  for (uint64_t i = from; i < to; ++i) {
    items.push_back(sample::make_work_item(i, merge_shape()));
    items.back().run_id = run_id;
  }
  c.record_work_items(items);
  c.end_run(run_id, 1700000001000 + index, {{"environments", to - from}});
}

// Everything stored but where rows happen to sit and when copies were made.
std::vector<std::string> merge_content(const std::string& path) {
  std::vector<std::string> all;
  for (const char* sql :
       {"SELECT key, environment_id, run_id, task_count FROM work_items ORDER BY key",
        "SELECT id, category, seed, env_json, tools, tools_code_sha256, world_db_sha256 FROM "
        "environments ORDER BY id",
        "SELECT id, environment_id, content_hash, difficulty, prompt, answer_schema, "
        "reference_solution, metadata, verifier_sha256, status, reject_reason, category FROM tasks "
        "ORDER BY id",
        "SELECT t.id, check_name, attempt, input_digest, expected_pass, verdict, score, reason, "
        "as_expected, wall_ms, output_digest FROM validations v JOIN tasks t ON t.row = v.task_row "
        "ORDER BY t.id, check_name, attempt",
        "SELECT r.id, t.id, model, attempt, trajectory, reward, passed FROM rollouts r "
        "JOIN tasks t ON t.row = r.task_row ORDER BY r.id",
        "SELECT sha256, length(bytes) FROM blobs ORDER BY sha256",
        "SELECT id, task_id, environment_id, who, verdict, notes FROM audits ORDER BY id"}) {
    auto r = query(path, sql);
    all.insert(all.end(), r.begin(), r.end());
  }
  return all;
}

std::vector<std::string> merge_runs(const std::string& path) {
  return query(path, "SELECT id, host, shard_index, shard_count, ended_at_ms, summary FROM runs ORDER BY id");
}

// Additive counts of `envforge audit`.
std::map<std::string, int64_t> additive_counts(const AuditSummary& a) {
  std::map<std::string, int64_t> m = {
      {"environments", a.environments}, {"tasks", a.tasks},     {"usable", a.usable},
      {"rejected", a.rejected},         {"validations", a.validations},
      {"validations_failed", a.validations_failed},             {"rollouts", a.rollouts},
      {"runs", a.runs},                 {"audits", a.audits}};
  for (const auto& [k, v] : a.environments_by_category) m["env:" + k] = v;
  for (const auto& [k, v] : a.tasks_by_category) m["task:" + k] = v;
  for (const auto& [k, v] : a.tasks_by_difficulty) m["level:" + std::to_string(k)] = v;
  for (const auto& [k, v] : a.tasks_by_status) m["status:" + k] = v;
  for (const auto& [k, v] : a.reject_reasons) m["reject:" + k] = v;
  for (const auto& [k, v] : a.validation_failures) m["failure:" + k] = v;
  m["rollout_tasks"] = a.rollout_stats.tasks;
  return m;
}

AuditSummary merge_audit_of(const std::string& path) {
  OpenOptions ro;
  ro.read_only = true;
  return Corpus::open(path, ro).audit_summary();
}

TEST(CorpusMerge, DisjointShardsMakeTheUnshardedCorpusAndAuditsAdd) {
  TempDir dir;
  make_merge_shard(dir.file("all_at_once.db"), 0, 24);
  std::vector<std::string> shards;
  std::map<std::string, int64_t> sum;
  for (int i = 0; i < 3; ++i) {
    shards.push_back(dir.file("shard" + std::to_string(i) + ".db"));
    make_merge_shard(shards.back(), 8 * i, 8 * (i + 1), i, 3);
    Corpus::open(shards.back()).record_audit({.id = "", .task_id = "", .environment_id =
        environment_id(sample::make_work_item(8 * i, merge_shape()).environment),
        .who = "reviewer", .verdict = "ok", .notes = "shard " + std::to_string(i), .created_at_ms = 1});
    for (const auto& [k, v] : additive_counts(merge_audit_of(shards.back()))) sum[k] += v;
  }
  MergeReport r = merge_corpora(dir.file("all.db"), shards);
  ASSERT_EQ(r.shards.size(), 3u);
  EXPECT_EQ(r.conflict_count, 0);
  for (const auto& s : r.shards) {
    EXPECT_EQ(s.tasks_added, 8 * 6);
    EXPECT_EQ(s.tasks_present, 0);
    EXPECT_EQ(s.validations_added, 8 * 6 * 12);
    EXPECT_EQ(s.rollouts_added, 8 * 6 * 2);
    EXPECT_EQ(s.runs_added, 1);
  }
  EXPECT_EQ(additive_counts(merge_audit_of(dir.file("all.db"))), sum);
  // The same tasks, ids and content hashes, with the same children, as one run making all items;
  // each work item still names the run (shard) that made it.
  std::vector<std::string> merged = merge_content(dir.file("all.db"));
  std::vector<std::string> whole = merge_content(dir.file("all_at_once.db"));
  auto strip_runs = [](const std::string& path) {
    return query(path, "SELECT id, content_hash FROM tasks ORDER BY id");
  };
  EXPECT_EQ(strip_runs(dir.file("all.db")), strip_runs(dir.file("all_at_once.db")));
  EXPECT_EQ(query(dir.file("all.db"), "SELECT count(DISTINCT run_id) FROM work_items"),
            std::vector<std::string>{"3"});
  auto shard_runs = query(dir.file("all.db"),
                          "SELECT shard_index, shard_count, host FROM runs ORDER BY shard_index");
  EXPECT_EQ(shard_runs, (std::vector<std::string>{"0|3|node0", "1|3|node1", "2|3|node2"}));
  // Rows whose content does not name the run agree exactly.
  auto without_work_items = [](std::vector<std::string> rows, size_t n) {
    rows.erase(rows.begin(), rows.begin() + static_cast<long>(n));
    return rows;
  };
  std::vector<std::string> whole_body = without_work_items(whole, 24);
  std::vector<std::string> merged_body = without_work_items(merged, 24);
  // The unsharded corpus has no audits; drop the merged ones (compared above through the sum).
  merged_body.resize(merged_body.size() - 3);
  EXPECT_EQ(merged_body, whole_body);
  // And a task read back through the Corpus API is the same record.
  OpenOptions ro;
  ro.read_only = true;
  auto item = sample::make_work_item(17, merge_shape());
  std::string id = task_id(environment_id(item.environment), item.tasks[3]);
  auto a = Corpus::open(dir.file("all.db"), ro).task(id);
  auto b = Corpus::open(dir.file("all_at_once.db"), ro).task(id);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->validations.size(), 12u);
  EXPECT_EQ(a->rollouts.size(), 2u);
  EXPECT_EQ(a->prompt, b->prompt);
  EXPECT_EQ(a->validations.back().output_digest, b->validations.back().output_digest);
  EXPECT_EQ(a->rollouts.back().id, b->rollouts.back().id);
}

TEST(CorpusMerge, MergingAgainAddsNothing) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 6, 0, 2);
  make_merge_shard(dir.file("b.db"), 6, 12, 1, 2);
  merge_corpora(dir.file("all.db"), {dir.file("a.db"), dir.file("b.db")});
  auto before = merge_content(dir.file("all.db"));
  auto runs_before = merge_runs(dir.file("all.db"));
  // Again, in the other order, with a shard named twice.
  MergeReport r = merge_corpora(dir.file("all.db"), {dir.file("b.db"), dir.file("a.db"), dir.file("b.db")});
  ASSERT_EQ(r.shards.size(), 2u);
  for (const auto& s : r.shards) {
    EXPECT_EQ(s.tasks_added + s.environments_added + s.validations_added + s.rollouts_added +
                  s.work_items_added + s.runs_added + s.blobs_added + s.audits_added, 0);
    EXPECT_EQ(s.tasks_present, 36);
  }
  EXPECT_EQ(r.conflict_count, 0);
  EXPECT_EQ(merge_content(dir.file("all.db")), before);
  EXPECT_EQ(merge_runs(dir.file("all.db")), runs_before);
}

TEST(CorpusMerge, OverlappingShardsMakeTheUnion) {
  TempDir dir;
  make_merge_shard(dir.file("whole.db"), 0, 20);
  make_merge_shard(dir.file("a.db"), 0, 14, 0, 2);
  make_merge_shard(dir.file("b.db"), 8, 20, 1, 2);
  MergeReport r = merge_corpora(dir.file("all.db"), {dir.file("a.db"), dir.file("b.db")});
  EXPECT_EQ(r.conflict_count, 0);
  EXPECT_EQ(r.shards[1].tasks_present, 6 * 6);
  EXPECT_EQ(r.shards[1].tasks_added, 6 * 6);
  auto ids = [](const std::string& p) { return query(p, "SELECT id, content_hash FROM tasks ORDER BY id"); };
  EXPECT_EQ(ids(dir.file("all.db")), ids(dir.file("whole.db")));
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM validations"), 20 * 6 * 12);
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM work_items"), 20);
}

// Changes a stored record behind the Corpus's back, as a buggy or tampered shard would have it.
void merge_tamper(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

TEST(CorpusMerge, ConflictingTaskIsReportedAndNeverOverwritten) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 4);
  make_merge_shard(dir.file("b.db"), 2, 6, 1, 2);
  // A usable task of item 2, which both shards made.
  auto both = sample::make_work_item(2, merge_shape());
  std::string victim;
  for (const auto& t : both.tasks)
    if (victim.empty() && t.status == TaskStatus::kUsable) victim = task_id(environment_id(both.environment), t);
  merge_tamper(dir.file("b.db"), "UPDATE tasks SET status = 'rejected', reject_reason = 'keep policy: x' WHERE id = '" +
                               victim + "'");
  merge_corpora(dir.file("all.db"), {dir.file("a.db")});
  MergeReport r = merge_corpora(dir.file("all.db"), {dir.file("b.db")});
  ASSERT_EQ(r.conflict_count, 1);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].kind, "task");
  EXPECT_EQ(r.conflicts[0].id, victim);
  EXPECT_EQ(r.conflicts[0].shard, dir.file("b.db"));
  EXPECT_NE(r.conflicts[0].detail.find("status"), std::string::npos) << r.conflicts[0].detail;
  EXPECT_NE(r.conflicts[0].detail.find("reject_reason"), std::string::npos);
  EXPECT_EQ(r.conflicts[0].detail.find("prompt"), std::string::npos);
  EXPECT_EQ(query(dir.file("all.db"), "SELECT status FROM tasks WHERE id = '" + victim + "'"),
            std::vector<std::string>{"usable"});
  // Everything else of shard b came in.
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM tasks"), 6 * 6);
}

TEST(CorpusMerge, ConflictingEnvironmentKeepsTheShardsWorkItemOut) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 3);
  make_merge_shard(dir.file("b.db"), 0, 3, 1, 2);
  // A work item made differently on another machine (non-deterministic generator): its
  // environment has another id, but the key is the same.
  std::string key = query(dir.file("b.db"), "SELECT key FROM work_items ORDER BY key LIMIT 1")[0];
  merge_tamper(dir.file("b.db"), "UPDATE work_items SET task_count = 5 WHERE key = '" + key + "'");
  std::string env = query(dir.file("b.db"), "SELECT id FROM environments ORDER BY id DESC LIMIT 1")[0];
  merge_tamper(dir.file("b.db"), "UPDATE environments SET system_prompt = 'other' WHERE id = '" + env + "'");
  auto before_env_prompt = query(dir.file("a.db"), "SELECT system_prompt FROM environments WHERE id = '" + env + "'");
  MergeReport r = merge_corpora(dir.file("all.db"), {dir.file("a.db"), dir.file("b.db")});
  EXPECT_EQ(r.conflict_count, 2);
  std::set<std::string> kinds;
  for (const auto& c : r.conflicts) kinds.insert(c.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"work item", "environment"}));
  EXPECT_EQ(query(dir.file("all.db"), "SELECT system_prompt FROM environments WHERE id = '" + env + "'"),
            before_env_prompt);
  EXPECT_EQ(query(dir.file("all.db"), "SELECT task_count FROM work_items WHERE key = '" + key + "'"),
            std::vector<std::string>{"6"});
  EXPECT_EQ(merge_content(dir.file("all.db")), merge_content(dir.file("a.db")));
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM runs"), 2);
}

TEST(CorpusMerge, RunThatEndedLaterIsCompletedNotConflicting) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  std::filesystem::copy_file(dir.file("a.db"), dir.file("early.db"));
  merge_tamper(dir.file("early.db"), "UPDATE runs SET ended_at_ms = NULL, summary = NULL");
  merge_corpora(dir.file("all.db"), {dir.file("early.db")});
  EXPECT_EQ(query(dir.file("all.db"), "SELECT ended_at_ms FROM runs"), std::vector<std::string>{"NULL"});
  MergeReport r = merge_corpora(dir.file("all.db"), {dir.file("a.db")});
  EXPECT_EQ(r.conflict_count, 0);
  EXPECT_EQ(merge_runs(dir.file("all.db")), merge_runs(dir.file("a.db")));
  // Ending differently twice is a conflict.
  merge_tamper(dir.file("early.db"), "UPDATE runs SET ended_at_ms = 5, summary = '{}'");
  r = merge_corpora(dir.file("all.db"), {dir.file("early.db")});
  ASSERT_EQ(r.conflict_count, 1);
  EXPECT_EQ(r.conflicts[0].kind, "run");
  EXPECT_EQ(merge_runs(dir.file("all.db")), merge_runs(dir.file("a.db")));
}

// A refused merge leaves an existing output byte-for-byte as it was, and creates none.
void expect_merge_refused(const std::vector<std::string>& shards, const std::string& out, const std::string& why) {
  bool existed = std::filesystem::exists(out);
  std::string before = existed ? read_bytes(out) : "";
  try {
    merge_corpora(out, shards);
    ADD_FAILURE() << "merge was not refused; expected: " << why;
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::filesystem::exists(out), existed);
  if (existed) {
    EXPECT_EQ(read_bytes(out), before);
  }
}

TEST(CorpusMerge, NewerSchemaShardIsRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  make_merge_shard(dir.file("future.db"), 2, 4);
  merge_tamper(dir.file("future.db"), "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  // The bad shard is last: the good one before it is not merged either.
  expect_merge_refused({dir.file("a.db"), dir.file("future.db")}, dir.file("new.db"), "newer envforge");
  make_merge_shard(dir.file("existing.db"), 10, 12);
  expect_merge_refused({dir.file("a.db"), dir.file("future.db")}, dir.file("existing.db"), "future.db");
}

TEST(CorpusMerge, GarbageTruncatedAndCorruptShardsAreRefused) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  make_merge_shard(dir.file("b.db"), 2, 40);
  write_bytes(dir.file("garbage.db"), std::string(5000, 'x'));
  expect_merge_refused({dir.file("a.db"), dir.file("garbage.db")}, dir.file("out.db"), "not an SQLite database");
  std::string bytes = read_bytes(dir.file("b.db"));
  write_bytes(dir.file("truncated.db"), bytes.substr(0, bytes.size() / 2));
  expect_merge_refused({dir.file("a.db"), dir.file("truncated.db")}, dir.file("out.db"), "truncated.db");
  // Pages overwritten in the middle of the file (a bad disk, a partial copy).
  std::string corrupt = bytes;
  for (size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 40000 && i < corrupt.size(); ++i)
    corrupt[i] = static_cast<char>(i * 31);
  write_bytes(dir.file("corrupt.db"), corrupt);
  expect_merge_refused({dir.file("a.db"), dir.file("corrupt.db")}, dir.file("out.db"), "corrupt.db");
  write_bytes(dir.file("empty.db"), "");
  expect_merge_refused({dir.file("empty.db")}, dir.file("out.db"), "empty.db");
  expect_merge_refused({dir.file("missing.db")}, dir.file("out.db"), "no such file");
  expect_merge_refused({}, dir.file("out.db"), "no shard");
  // Another application's database.
  merge_tamper(dir.file("other.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
  expect_merge_refused({dir.file("other.db")}, dir.file("out.db"), "another application");
}

// A child past the shard's last task would end up under the next shard's
// task of that row: such a shard is refused, whether it comes first (a page
// copy) or later, and whichever child table it is in.
TEST(CorpusMerge, ShardWithChildrenOfNoTaskIsRefused) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  make_merge_shard(dir.file("v.db"), 2, 4);
  make_merge_shard(dir.file("r.db"), 4, 6);
  merge_tamper(dir.file("v.db"), "UPDATE validations SET task_row = task_row + 1000 "
                                 "WHERE task_row = (SELECT max(task_row) FROM validations)");
  merge_tamper(dir.file("r.db"), "UPDATE rollouts SET task_row = 99 WHERE row = 1");
  expect_merge_refused({dir.file("v.db"), dir.file("a.db")}, dir.file("out.db"), "v.db: validations refer to task row");
  expect_merge_refused({dir.file("a.db"), dir.file("r.db")}, dir.file("out.db"), "r.db: rollouts refer to task row 99");
  make_merge_shard(dir.file("existing.db"), 10, 12);
  expect_merge_refused({dir.file("a.db"), dir.file("v.db")}, dir.file("existing.db"), "past its last task");
}

TEST(CorpusMerge, OutputAmongTheInputsIsRefused) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  make_merge_shard(dir.file("all.db"), 2, 4);
  expect_merge_refused({dir.file("a.db"), dir.file("all.db")}, dir.file("all.db"), "output itself");
}

TEST(CorpusMerge, CorruptOutputIsRefused) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  write_bytes(dir.file("all.db"), "not a database at all, but somebody's notes");
  expect_merge_refused({dir.file("a.db")}, dir.file("all.db"), "all.db");
}

std::vector<std::string> make_three_shards(const TempDir& dir) {
  std::vector<std::string> shards;
  for (int i = 0; i < 3; ++i) {
    shards.push_back(dir.file("s" + std::to_string(i) + ".db"));
    make_merge_shard(shards.back(), 5 * i, 5 * (i + 1), i, 3);
  }
  return shards;
}

MergeOptions crash_at(const std::string& at) {
  MergeOptions crash;
  crash.before_commit = [at](const std::string& shard) {
    if (shard == at) throw std::runtime_error("killed");
  };
  return crash;
}

TEST(CorpusMerge, InterruptedMergeIntoANewCorpusLeavesNoneAndRerunMakesIt) {
  TempDir dir;
  std::vector<std::string> shards = make_three_shards(dir);
  merge_corpora(dir.file("ref.db"), shards);
  // Killed while copying the first shard, and while merging a later one.
  for (const std::string& at : {shards[0], shards[1]}) {
    EXPECT_THROW(merge_corpora(dir.file("all.db"), shards, crash_at(at)), std::runtime_error);
    EXPECT_FALSE(std::filesystem::exists(dir.file("all.db")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("all.db.merging")));
  }
  // A half-built file left by a merge killed outright is started over.
  write_bytes(dir.file("all.db.merging"), "half a corpus");
  MergeReport r = merge_corpora(dir.file("all.db"), shards);
  EXPECT_EQ(r.shards[0].tasks_added, 30);
  EXPECT_EQ(r.shards[2].tasks_added, 30);
  EXPECT_FALSE(std::filesystem::exists(dir.file("all.db.merging")));
  EXPECT_EQ(merge_content(dir.file("all.db")), merge_content(dir.file("ref.db")));
  EXPECT_EQ(merge_runs(dir.file("all.db")), merge_runs(dir.file("ref.db")));
  EXPECT_EQ(query(dir.file("all.db"), "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(query(dir.file("all.db"), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST(CorpusMerge, InterruptedMergeIntoAnExistingCorpusKeepsWholeShardsAndRerunCompletesIt) {
  TempDir dir;
  std::vector<std::string> shards = make_three_shards(dir);
  merge_corpora(dir.file("ref.db"), shards);
  merge_corpora(dir.file("all.db"), {shards[0]});
  EXPECT_THROW(merge_corpora(dir.file("all.db"), shards, crash_at(shards[2])), std::runtime_error);
  // Shards 0 and 1 are in whole, nothing of shard 2 is.
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM tasks"), 10 * 6);
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM validations"), 10 * 6 * 12);
  MergeReport r = merge_corpora(dir.file("all.db"), shards);
  EXPECT_EQ(r.shards[0].tasks_added, 0);
  EXPECT_EQ(r.shards[1].tasks_added, 0);
  EXPECT_EQ(r.shards[2].tasks_added, 30);
  EXPECT_EQ(merge_content(dir.file("all.db")), merge_content(dir.file("ref.db")));
  EXPECT_EQ(merge_runs(dir.file("all.db")), merge_runs(dir.file("ref.db")));
}

// Overwrites the middle leaf page of the shard's validations with garbage: the
// file still opens and lists its tables; only reading that page fails.
void corrupt_a_middle_page(const std::string& path) {
  int64_t page_size = query_int(path, "PRAGMA page_size");
  std::vector<std::string> pages =
      query(path, "SELECT pageno FROM dbstat WHERE name = 'validations' AND pagetype = 'leaf' ORDER BY pageno");
  ASSERT_GE(pages.size(), 3u);
  int64_t page = std::stoll(pages[pages.size() / 2]);
  std::string bytes = read_bytes(path);
  for (int64_t i = 0; i < page_size; ++i)
    bytes[static_cast<size_t>((page - 1) * page_size + i)] = static_cast<char>((i * 131) ^ 0x5a);
  write_bytes(path, bytes);
}

TEST(CorpusMerge, ShardWithACorruptPageIsRefusedNamingItAndNothingIsWritten) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 2);
  make_merge_shard(dir.file("bad_shard.db"), 2, 40);
  corrupt_a_middle_page(dir.file("bad_shard.db"));
  make_merge_shard(dir.file("existing.db"), 50, 52);
  for (bool check : {true, false}) {
    SCOPED_TRACE(check ? "with the integrity check" : "--skip-integrity-check: found while copying");
    MergeOptions options;
    options.check_integrity = check;
    for (const auto& inputs : {std::vector<std::string>{dir.file("a.db"), dir.file("bad_shard.db")},
                               std::vector<std::string>{dir.file("bad_shard.db"), dir.file("a.db")}}) {
      try {
        merge_corpora(dir.file("new.db"), inputs, options);
        ADD_FAILURE() << "a corrupt shard was merged";
      } catch (const CorpusError& e) {
        EXPECT_NE(std::string(e.what()).find("bad_shard.db"), std::string::npos) << e.what();
      }
      EXPECT_FALSE(std::filesystem::exists(dir.file("new.db")));
      EXPECT_FALSE(std::filesystem::exists(dir.file("new.db.merging")));
    }
    std::string before = read_bytes(dir.file("existing.db"));
    try {
      merge_corpora(dir.file("existing.db"), {dir.file("bad_shard.db")}, options);
      ADD_FAILURE() << "a corrupt shard was merged";
    } catch (const CorpusError& e) {
      EXPECT_NE(std::string(e.what()).find("bad_shard.db"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_bytes(dir.file("existing.db")), before);
    EXPECT_EQ(query_int(dir.file("existing.db"), "SELECT count(*) FROM tasks"), 2 * 6);
  }
}

TEST(CorpusMerge, MergedCorpusTakesNewWorkAndResumesLikeAnyOther) {
  TempDir dir;
  make_merge_shard(dir.file("a.db"), 0, 3);
  merge_corpora(dir.file("all.db"), {dir.file("a.db")});
  Corpus c = Corpus::open(dir.file("all.db"));
  EXPECT_TRUE(c.has_work_item(sample::make_work_item(1, merge_shape()).key));
  EXPECT_FALSE(c.record_work_item(sample::make_work_item(1, merge_shape())));
  EXPECT_TRUE(c.record_work_item(sample::make_work_item(7, merge_shape())));
  EXPECT_EQ(c.count_tasks(), 4 * 6);
}

// The schema as Corpus::open makes it: a merged corpus must be indistinguishable.
std::vector<std::string> merge_schema(const std::string& path) {
  return query(path, "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') "
                     "FROM sqlite_master ORDER BY name");
}

TEST(CorpusMerge, NewCorpusHasTheSchemaAndIndexesOfAFreshOne) {
  TempDir dir;
  std::vector<std::string> shards = make_three_shards(dir);
  merge_corpora(dir.file("all.db"), shards);
  Corpus::open(dir.file("fresh.db"));
  EXPECT_EQ(merge_schema(dir.file("all.db")), merge_schema(dir.file("fresh.db")));
  // Indexes built after the rows agree with the rows.
  EXPECT_EQ(query(dir.file("all.db"), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(query_int(dir.file("all.db"), "PRAGMA user_version"), kSchemaVersion);
  // Queries that use them find what a scan finds.
  std::string env = query(shards[1], "SELECT environment_id FROM tasks LIMIT 1")[0];
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM tasks INDEXED BY tasks_environment "
                                          "WHERE environment_id = '" + env + "'"), 6);
  std::string hash = query(shards[2], "SELECT content_hash FROM tasks LIMIT 1")[0];
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM tasks INDEXED BY tasks_content_hash "
                                          "WHERE content_hash = '" + hash + "'"),
            query_int(dir.file("all.db"), "SELECT count(*) FROM tasks NOT INDEXED WHERE content_hash = '" + hash + "'"));
}

// Task rows are a shard's own numbering: wherever they start and whatever
// gaps they have, each task arrives with its own validations and rollouts.
TEST(CorpusMerge, ShardTaskRowsAnywhereKeepTheirChildren) {
  TempDir dir;
  std::vector<std::string> shards = make_three_shards(dir);
  merge_corpora(dir.file("ref.db"), shards);
  auto renumber = [](const std::string& shard, const std::string& to) {
    // Through numbers far away, since every step must keep rows unique.
    merge_tamper(shard, "PRAGMA foreign_keys = OFF; "
                        "CREATE TEMP TABLE m AS SELECT row + 1000000000 AS old, " + to + " AS new FROM tasks; "
                        "UPDATE tasks SET row = row + 1000000000; "
                        "UPDATE tasks SET row = (SELECT new FROM temp.m WHERE old = row); "
                        "UPDATE validations SET task_row = task_row + 1000000000; "
                        "UPDATE validations SET task_row = (SELECT new FROM temp.m WHERE old = task_row); "
                        "UPDATE rollouts SET task_row = (SELECT new FROM temp.m WHERE old = task_row + 1000000000)");
  };
  renumber(shards[0], "row * 7 + 1000");         // far beyond the others, with gaps
  renumber(shards[1], "-row");                    // negative, in reverse order
  renumber(shards[2], "row * 3");                 // overlaps the first shard's numbers
  for (const char* out : {"new.db", "existing.db"}) {
    SCOPED_TRACE(out);
    if (std::string(out) == "existing.db") Corpus::open(dir.file(out));
    MergeReport r = merge_corpora(dir.file(out), shards);
    EXPECT_EQ(r.conflict_count, 0);
    EXPECT_EQ(merge_content(dir.file(out)), merge_content(dir.file("ref.db")));
    EXPECT_EQ(query(dir.file(out), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  }
}

// A shard that mostly repeats the output: the few new tasks bring their own
// children, the repeated ones none.
TEST(CorpusMerge, ShardOfMostlyPresentTasksAddsTheFewNewOnesWhole) {
  TempDir dir;
  make_merge_shard(dir.file("whole.db"), 0, 10);
  make_merge_shard(dir.file("most.db"), 0, 8);
  make_merge_shard(dir.file("all.db"), 1, 9);
  // Rows of the shard numbered unlike the output's.
  merge_tamper(dir.file("whole.db"), "PRAGMA foreign_keys = OFF; UPDATE tasks SET row = row + 1000000; "
                                     "UPDATE validations SET task_row = task_row + 1000000; "
                                     "UPDATE rollouts SET task_row = task_row + 1000000");
  MergeReport r = merge_corpora(dir.file("all.db"), {dir.file("most.db"), dir.file("whole.db")});
  EXPECT_EQ(r.conflict_count, 0);
  EXPECT_EQ(r.shards[0].tasks_added, 6);
  EXPECT_EQ(r.shards[1].tasks_added, 6);
  EXPECT_EQ(r.shards[1].tasks_present, 9 * 6);
  EXPECT_EQ(r.shards[1].validations_added, 6 * 12);
  EXPECT_EQ(r.shards[1].rollouts_added, 6 * 2);
  // Each task with its own children (work items differ only in the run that recorded them).
  for (const char* sql :
       {"SELECT t.id, check_name, attempt, input_digest, verdict, output_digest FROM validations v "
        "JOIN tasks t ON t.row = v.task_row ORDER BY t.id, check_name, attempt",
        "SELECT r.id, t.id, model, attempt, trajectory FROM rollouts r JOIN tasks t ON t.row = r.task_row ORDER BY r.id",
        "SELECT id, content_hash, prompt FROM tasks ORDER BY id"})
    EXPECT_EQ(query(dir.file("all.db"), sql), query(dir.file("whole.db"), sql)) << sql;
}

// A merge killed outright (SIGKILL, no cleanup) at `point` ("shard" while a
// later shard is being written, "indexes" while a new output's indexes are built).
void merge_killed_at(const std::string& out, const std::vector<std::string>& shards, const std::string& point) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    MergeOptions options;
    if (point == "shard")
      options.before_commit = [&](const std::string& s) { if (s == shards.back()) raise(SIGKILL); };
    else
      options.before_indexes = [] { raise(SIGKILL); };
    try {
      merge_corpora(out, shards, options);
    } catch (...) {
    }
    _exit(3);  // not killed: the hook was never reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(CorpusMerge, KilledMergeIntoANewCorpusLeavesNoneAndRerunMakesIt) {
  TempDir dir;
  std::vector<std::string> shards = make_three_shards(dir);
  merge_corpora(dir.file("ref.db"), shards);
  for (const char* point : {"shard", "indexes"}) {
    SCOPED_TRACE(point);
    merge_killed_at(dir.file("all.db"), shards, point);
    EXPECT_FALSE(std::filesystem::exists(dir.file("all.db")));
    MergeReport r = merge_corpora(dir.file("all.db"), shards);
    EXPECT_EQ(r.shards[2].tasks_added, 30);
    EXPECT_FALSE(std::filesystem::exists(dir.file("all.db.merging")));
    EXPECT_EQ(merge_content(dir.file("all.db")), merge_content(dir.file("ref.db")));
    EXPECT_EQ(merge_schema(dir.file("all.db")), merge_schema(dir.file("ref.db")));
    EXPECT_EQ(query(dir.file("all.db"), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    std::filesystem::remove(dir.file("all.db"));
    std::filesystem::remove(dir.file("all.db-wal"));
    std::filesystem::remove(dir.file("all.db-shm"));
  }
}

TEST(CorpusMerge, KilledMergeIntoAnExistingCorpusKeepsWholeShardsAndRerunCompletesIt) {
  TempDir dir;
  std::vector<std::string> shards = make_three_shards(dir);
  merge_corpora(dir.file("ref.db"), shards);
  merge_corpora(dir.file("all.db"), {shards[0]});
  merge_killed_at(dir.file("all.db"), shards, "shard");
  // Shards 0 and 1 are in whole, nothing of shard 2 is.
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM tasks"), 10 * 6);
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM validations"), 10 * 6 * 12);
  EXPECT_EQ(query(dir.file("all.db"), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  MergeReport r = merge_corpora(dir.file("all.db"), shards);
  EXPECT_EQ(r.shards[2].tasks_added, 30);
  EXPECT_EQ(merge_content(dir.file("all.db")), merge_content(dir.file("ref.db")));
}

}  // namespace
}  // namespace envforge::data
