// Merging corpora in SQL: each shard is ATTACHed to the output and its tables
// are copied with INSERT ... SELECT, so rows stream from file to file without
// being decoded into records. Tasks get new integer rows in the output, the
// shard's rows moved by one offset, which carries their children along.
// A new output starts as a page copy of the first shard, is written without a
// journal beside its final name and gets its random-keyed indexes built last
// (see merge_into_new).
#include "data/corpus_merge.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/corpus.h"
#include "data/corpus_impl.h"
#include "data/schema.h"
#include "data/sqlite_handle.h"

namespace envforge::data {

namespace {

using MergeClock = std::chrono::steady_clock;

double merge_seconds_since(MergeClock::time_point t) {
  return std::chrono::duration<double>(MergeClock::now() - t).count();
}

// A file's identity, to find the output among the inputs and repeated inputs.
struct MergeFileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const MergeFileId&) const = default;
};

std::optional<MergeFileId> merge_file_id(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return MergeFileId{st.st_dev, st.st_ino};
}

// The columns that make up a record's content, compared to find conflicts.
// Times (created_at_ms) are when a copy was made, not what it is.
constexpr const char* kMergeEnvironmentColumns[] = {
    "category", "seed", "generator_name", "generator_version", "system_prompt",
    "env_json", "tools", "tools_code_sha256", "world_db_sha256"};
constexpr const char* kMergeTaskColumns[] = {
    "environment_id", "content_hash", "difficulty", "prompt", "answer_schema",
    "reference_solution", "verifier_sha256", "metadata", "status", "reject_reason", "category"};
constexpr const char* kMergeRunColumns[] = {
    "command", "config", "envforge_version", "git_revision", "host", "shard_index",
    "shard_count", "started_at_ms"};
constexpr const char* kMergeWorkItemColumns[] = {"environment_id", "task_count"};

// SELECT s.<key>, '<differing columns>' FROM shard.<table> s JOIN main.<table> m
// ON m.<key> = s.<key> WHERE any column differs (and `extra` holds).
template <size_t N>
std::string merge_conflict_sql(const char* table, const char* key, const char* const (&columns)[N]) {
  std::string differs, names;
  for (const char* c : columns) {
    std::string test = std::string("s.") + c + " IS NOT m." + c;
    differs += (differs.empty() ? "" : " OR ") + test;
    names += (names.empty() ? "" : " || ") + std::string("CASE WHEN ") + test + " THEN '" + c +
             " ' ELSE '' END";
  }
  return std::string("SELECT s.") + key + ", rtrim(" + names + ") FROM shard." + table +
         " s JOIN main." + table + " m ON m." + key + " = s." + key + " WHERE " + differs;
}

// Every table of the schema this build writes.
constexpr const char* kMergeTables[] = {"blobs", "runs", "environments", "tasks", "validations",
                                        "rollouts", "work_items", "audits"};

class ShardMerger {
 public:
  ShardMerger(Connection& c, const std::string& shard, const MergeOptions& options,
              MergeReport& report)
      : c_(c), shard_(shard), options_(options), report_(report) {
    stats_.path = shard;
  }

  ShardMergeStats run() {
    auto t = MergeClock::now();
    c_.exec("CREATE TEMP TABLE IF NOT EXISTS merge_skip_env(id TEXT PRIMARY KEY)");
    c_.exec("DELETE FROM temp.merge_skip_env");
    if (output_is_empty()) {
      copy_whole_shard();
      stats_.seconds = merge_seconds_since(t);
      return stats_;
    }
    find_conflicts();
    merge_blobs();
    merge_runs();
    merge_environments();
    merge_tasks();
    // A task that differs from the one of its id in the output was left out
    // by the insert: only then can there be task conflicts to report.
    if (stats_.tasks_present > 0) find_task_conflicts();
    merge_children();
    merge_work_items();
    merge_audits();
    stats_.seconds = merge_seconds_since(t);
    return stats_;
  }

 private:
  void conflict(const char* kind, std::string id, std::string detail) {
    ++stats_.conflicts;
    ++report_.conflict_count;
    if (report_.conflicts.size() < options_.max_conflicts_listed)
      report_.conflicts.push_back({shard_, kind, std::move(id), std::move(detail)});
  }

  int64_t run_counted(const std::string& sql) {
    c_.exec(sql);
    return sqlite3_changes64(c_.raw());
  }

  int64_t count(const std::string& sql) { return c_.query_int(sql); }

  bool output_is_empty() {
    for (const char* table : kMergeTables)
      if (count(std::string("SELECT EXISTS (SELECT 1 FROM main.") + table + ")")) return false;
    return true;
  }

  // Into an empty output a shard is copied table by table as it is: with the
  // same schema on both sides SQLite moves whole records and builds each index
  // from the source's already sorted one (its transfer optimization), and task
  // rows keep their numbers, so children need no mapping.
  void copy_whole_shard() {
    auto copy = [&](const char* table) {
      return run_counted(std::string("INSERT INTO main.") + table + " SELECT * FROM shard." + table);
    };
    stats_.blobs_added = copy("blobs");
    stats_.runs_added = copy("runs");
    stats_.environments_added = copy("environments");
    stats_.tasks_added = copy("tasks");
    stats_.validations_added = copy("validations");
    stats_.rollouts_added = copy("rollouts");
    stats_.work_items_added = copy("work_items");
    stats_.audits_added = copy("audits");
  }

  // Conflicts are found before anything of the shard is written (those of
  // tasks among the tasks the insert left out): a conflicting environment or
  // work item keeps the shard's environment (and all under it) out.
  void find_conflicts() {
    {
      Statement s(c_.raw(), merge_conflict_sql("environments", "id", kMergeEnvironmentColumns), c_.path());
      while (s.step()) {
        std::string id = s.text_at(0);
        conflict("environment", id, "differs in: " + s.text_at(1));
        skip_environment(id);
      }
    }
    {
      Statement s(c_.raw(),
                  merge_conflict_sql("work_items", "key", kMergeWorkItemColumns), c_.path());
      // The query reads merge_skip_env: collect first, then add to it.
      std::vector<std::pair<std::string, std::string>> found;
      while (s.step()) found.emplace_back(s.text_at(0), s.text_at(1));
      for (auto& [key, what] : found) {
        Statement q(c_.raw(), "SELECT environment_id FROM shard.work_items WHERE key = ?", c_.path());
        q.bind(1, key);
        std::string env = q.step() ? q.text_at(0) : std::string();
        conflict("work item", key, "differs in: " + what + " (the shard's environment " + env + " is left out)");
        skip_environment(env);
      }
    }
    {
      // A run's id covers how it started; how it ended may be learnt later.
      Statement s(c_.raw(),
                  merge_conflict_sql("runs", "id", kMergeRunColumns) +
                      " OR (s.ended_at_ms IS NOT NULL AND m.ended_at_ms IS NOT NULL AND "
                      "(s.ended_at_ms IS NOT m.ended_at_ms OR s.summary IS NOT m.summary))",
                  c_.path());
      while (s.step()) {
        std::string what = s.text_at(1);
        conflict("run", s.text_at(0), what.empty() ? "ended differently" : "differs in: " + what);
      }
    }
    {
      Statement s(c_.raw(),
                  "SELECT s.sha256 FROM shard.blobs s JOIN main.blobs m ON m.sha256 = s.sha256 "
                  "WHERE s.bytes IS NOT m.bytes", c_.path());
      while (s.step()) conflict("blob", s.text_at(0), "different bytes under the same digest");
    }
  }

  void find_task_conflicts() {
    Statement s(c_.raw(), merge_conflict_sql("tasks", "id", kMergeTaskColumns), c_.path());
    while (s.step()) conflict("task", s.text_at(0), "differs in: " + s.text_at(1));
  }

  void skip_environment(const std::string& id) {
    Statement s(c_.raw(), "INSERT OR IGNORE INTO temp.merge_skip_env(id) VALUES (?)", c_.path());
    s.bind(1, id);
    s.run();
  }

  void merge_blobs() {
    stats_.blobs_added = run_counted(
        "INSERT OR IGNORE INTO main.blobs(sha256, bytes) SELECT sha256, bytes FROM shard.blobs");
  }

  void merge_runs() {
    const char* cols =
        "id, command, config, envforge_version, git_revision, host, shard_index, shard_count, "
        "started_at_ms, ended_at_ms, summary";
    stats_.runs_added = run_counted(std::string("INSERT OR IGNORE INTO main.runs(") + cols +
                                    ") SELECT " + cols + " FROM shard.runs");
    // A run that had not ended in the output has ended in the shard.
    c_.exec("UPDATE main.runs SET ended_at_ms = s.ended_at_ms, summary = s.summary "
            "FROM shard.runs s WHERE s.id = main.runs.id AND main.runs.ended_at_ms IS NULL "
            "AND s.ended_at_ms IS NOT NULL");
  }

  void merge_environments() {
    const char* cols =
        "id, category, seed, generator_name, generator_version, system_prompt, env_json, tools, "
        "tools_code_sha256, world_db_sha256, created_at_ms";
    int64_t total = count("SELECT count(*) FROM shard.environments");
    stats_.environments_added = run_counted(
        std::string("INSERT OR IGNORE INTO main.environments(") + cols + ") SELECT " + cols +
        " FROM shard.environments WHERE id NOT IN (SELECT id FROM temp.merge_skip_env)");
    stats_.environments_present = total - stats_.environments_added;
  }

  // New tasks get rows after the output's last one: a shard's row r becomes
  // r + offset, in the shard's order, so the rows stay in step and children
  // find their task by arithmetic, not through a lookup table. A task that was
  // present (or left out) leaves its row empty, and its children stay out.
  void merge_tasks() {
    const char* cols =
        "id, environment_id, content_hash, difficulty, prompt, answer_schema, reference_solution, "
        "verifier_sha256, metadata, status, reject_reason, category";
    last_row_ = count("SELECT coalesce(max(row), 0) FROM main.tasks");
    int64_t first_shard_row = count("SELECT coalesce(min(row), 1) FROM shard.tasks");
    row_offset_ = std::to_string(last_row_ - first_shard_row + 1);
    int64_t total = count("SELECT count(*) FROM shard.tasks");
    stats_.tasks_added = run_counted(
        std::string("INSERT OR IGNORE INTO main.tasks(row, ") + cols + ") SELECT row + " + row_offset_ +
        ", " + cols + " FROM shard.tasks WHERE environment_id NOT IN (SELECT id FROM temp.merge_skip_env) "
        "ORDER BY row");
    stats_.tasks_present = total - stats_.tasks_added;
  }

  // Validations and rollouts of the tasks this shard added (a task already in
  // the output kept the children it came with). When all were added, every
  // child is copied; when most were,
  // the shard's children are read front to back, each kept if its task came;
  // when few were, they are looked up from the added tasks (a merge again).
  void merge_children() {
    if (stats_.tasks_added == 0) return;
    const std::string task_row = "ch.task_row + " + row_offset_;
    // Rollouts come in the shard's order of their rows, validations as they lie.
    auto from = [&](const std::string& table) {
      bool by_row = table == "rollouts";
      // Every task of the shard came: so do all its children, unlooked-up.
      if (stats_.tasks_present == 0) return " FROM shard." + table + " ch" + (by_row ? " ORDER BY ch.row" : "");
      if (stats_.tasks_added >= stats_.tasks_present)
        return " FROM shard." + table + " ch WHERE EXISTS (SELECT 1 FROM main.tasks m WHERE m.row = " +
               task_row + ")" + (by_row ? " ORDER BY ch.row" : "");
      return " FROM main.tasks m CROSS JOIN shard." + table + " ch ON ch.task_row = m.row - " + row_offset_ +
             " WHERE m.row > " + std::to_string(last_row_) + " ORDER BY m.row" + (by_row ? ", ch.row" : "");
    };
    stats_.validations_added = run_counted(
        "INSERT INTO main.validations(task_row, check_name, attempt, input_digest, expected_pass, "
        "verdict, score, reason, as_expected, started_at_ms, wall_ms, output_digest) "
        "SELECT " + task_row + ", ch.check_name, ch.attempt, ch.input_digest, ch.expected_pass, "
        "ch.verdict, ch.score, ch.reason, ch.as_expected, ch.started_at_ms, ch.wall_ms, "
        "ch.output_digest" + from("validations"));
    stats_.rollouts_added = run_counted(
        "INSERT OR IGNORE INTO main.rollouts(id, task_row, model, attempt, trajectory, reward, "
        "passed, prompt_tokens, completion_tokens, started_at_ms, wall_ms) "
        "SELECT ch.id, " + task_row + ", ch.model, ch.attempt, ch.trajectory, ch.reward, ch.passed, "
        "ch.prompt_tokens, ch.completion_tokens, ch.started_at_ms, ch.wall_ms" + from("rollouts"));
  }

  void merge_work_items() {
    stats_.work_items_added = run_counted(
        "INSERT OR IGNORE INTO main.work_items(key, environment_id, run_id, task_count, "
        "recorded_at_ms) SELECT key, environment_id, run_id, task_count, recorded_at_ms "
        "FROM shard.work_items WHERE environment_id NOT IN (SELECT id FROM temp.merge_skip_env)");
  }

  // Audits of what made it into the output (not of a skipped environment's records).
  void merge_audits() {
    stats_.audits_added = run_counted(
        "INSERT OR IGNORE INTO main.audits(id, task_id, environment_id, who, verdict, notes, "
        "created_at_ms) SELECT a.id, a.task_id, a.environment_id, a.who, a.verdict, a.notes, "
        "a.created_at_ms FROM shard.audits a "
        "WHERE (a.task_id IS NULL OR EXISTS (SELECT 1 FROM main.tasks t WHERE t.id = a.task_id)) "
        "AND (a.environment_id IS NULL OR EXISTS "
        "(SELECT 1 FROM main.environments e WHERE e.id = a.environment_id))");
  }

  Connection& c_;
  const std::string& shard_;
  const MergeOptions& options_;
  MergeReport& report_;
  ShardMergeStats stats_;
  int64_t last_row_ = 0;    // the output's last task row before this shard
  std::string row_offset_;  // shard task row + offset = output task row
};

// Task rows are moved by an offset and the next shard's tasks come after
// the last one: a child whose task row lies past the shard's last task would
// end up under another shard's task. (Quick_check does not look at references;
// the corpus's write paths never leave such a row.)
void check_children_have_tasks(const std::string& shard) {
  Connection c(shard, SQLITE_OPEN_READONLY, sqlite_read_only_uri(shard));
  int64_t last_task = c.query_int("SELECT coalesce(max(row), 0) FROM tasks");
  for (const char* table : {"validations", "rollouts"}) {
    int64_t last_child = c.query_int(std::string("SELECT coalesce(max(task_row), 0) FROM ") + table);
    if (last_child > last_task)
      throw CorpusError("corpus " + shard + ": " + table + " refer to task row " + std::to_string(last_child) +
                        ", past its last task (row " + std::to_string(last_task) +
                        "); a damaged corpus is not merged");
  }
}

// Every input and the output, checked before anything is written, as
// Corpus::open checks a file (without opening it for use). Returns the shards
// to merge (a file named twice is merged once).
std::vector<std::string> check_merge_inputs(const std::string& out, const std::vector<std::string>& shards,
                                            const MergeOptions& options) {
  if (shards.empty()) throw CorpusError("merge: no shard corpora given");
  std::optional<MergeFileId> out_id = merge_file_id(out);
  OpenOptions check;
  check.check_integrity = options.check_integrity;
  std::vector<std::string> unique;
  std::vector<MergeFileId> seen;
  for (const auto& shard : shards) {
    std::optional<MergeFileId> id = merge_file_id(shard);
    if (!id) throw CorpusError("corpus " + shard + ": no such file");
    if (out_id && *id == *out_id)
      throw CorpusError("corpus " + shard + ": is the output itself; a corpus cannot be merged into itself");
    bool repeated = false;
    for (const auto& s : seen) repeated = repeated || s == *id;
    if (repeated) continue;
    seen.push_back(*id);
    Inspection shard_file = inspect_existing(shard, check);
    if (shard_file.empty) throw CorpusError("corpus " + shard + ": empty file, not a corpus yet");
    // Columns are copied by name from a shard of this build's schema only.
    if (shard_file.version != kSchemaVersion)
      throw CorpusError("corpus " + shard + ": schema version " + std::to_string(shard_file.version) +
                        " needs migrating to " + std::to_string(kSchemaVersion) +
                        "; open it for writing once (envforge audit --corpus " + shard + " does)");
    check_children_have_tasks(shard);
    unique.push_back(shard);
  }
  // An output of an older schema is migrated when it is opened for writing.
  if (out_id) inspect_existing(out, check);
  return unique;
}

void configure_merge_connection(Connection& c) {
  c.exec("PRAGMA busy_timeout = 30000");
  // Every shard passed the checks and every reference is copied with what it
  // refers to; without per-row key checks SQLite can also move whole records.
  c.exec("PRAGMA foreign_keys = OFF");
  c.exec("PRAGMA temp_store = MEMORY");
  // 384 MiB of page cache: the output's random-keyed (content id) indexes
  // stay mostly in memory, while the pages of appended rows go out as they
  // fill. Measured with bench/merge_bench, 1M tasks: 29.6k tasks per CPU-second
  // against 22.4k with 1 GiB (memory faulted in page by page, every dirty page
  // written at COMMIT) and 20.3k with 128 MiB (index pages evicted and reread).
  c.exec("PRAGMA cache_size = -393216");
}

// Page cache for filling a new output: enough for its random-keyed unique
// indexes (task, environment, blob, work item and rollout ids; about 125
// bytes per task) once `tasks` more tasks are in, half again for the pages
// being filled; no more, since every page of cache beyond what is reused is
// fresh memory faulted in (bench/merge_bench, 120k tasks: 36-39k tasks per
// CPU-second with 16 MiB, 29-33k with 45 MiB, 23k with 384 MiB; 1M tasks:
// 16 MiB thrashes the id indexes, 7-11 CPU-s a shard against 6-8 with 180 MiB).
void size_merge_cache(Connection& c, int64_t tasks) {
  int64_t kib = std::clamp<int64_t>(tasks * 125 * 3 / 2 / 1024, 16 * 1024, 384 * 1024);
  c.exec("PRAGMA main.cache_size = -" + std::to_string(kib));
}

// Merges one shard in one transaction; an error names the shard.
void merge_shard(Connection& c, const std::string& shard, const MergeOptions& options,
                 MergeReport& report, bool new_output) {
  {
    Statement attach(c.raw(), "ATTACH DATABASE ? AS shard", c.path());
    attach.bind(1, sqlite_read_only_uri(shard));
    try {
      attach.run();
    } catch (const CorpusError& e) {
      throw CorpusError("corpus " + shard + ": cannot attach for merging: " + e.what());
    }
  }
  try {
    // Shard pages are read through a memory map rather than copied by read().
    c.exec("PRAGMA shard.cache_size = -65536");
    c.exec("PRAGMA shard.mmap_size = 2147418112");
    if (new_output) {
      // An empty output takes the shard's rows and unique indexes in order (no random inserts).
      int64_t present = c.query_int("SELECT coalesce(max(row), 0) FROM main.tasks");
      size_merge_cache(c, present ? present + c.query_int("SELECT count(*) FROM shard.tasks") : 0);
    }
    WriteTransaction tx(c);
    ShardMerger merger(c, shard, options, report);
    report.shards.push_back(merger.run());
    if (options.before_commit) options.before_commit(shard);
    tx.commit();
  } catch (const CorpusError& e) {
    sqlite3_exec(c.raw(), "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    // A page that fails to read (merged with --skip-integrity-check) surfaces here.
    throw CorpusError("corpus " + shard + ": merging it failed, nothing of it was written: " + e.what());
  } catch (...) {
    sqlite3_exec(c.raw(), "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  c.exec("DETACH DATABASE shard");
}

// Into an existing output each shard is merged in its own WAL transaction:
// an interrupted merge keeps whole shards, and rerunning it completes it.
void merge_into_existing(const std::string& out, const std::vector<std::string>& inputs,
                         const MergeOptions& options, MergeReport& report) {
  Corpus::open(out);  // migrates an older schema
  Connection c(out, SQLITE_OPEN_READWRITE, sqlite_file_uri(out));
  configure_merge_connection(c);
  c.exec("PRAGMA synchronous = NORMAL");
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (options.on_shard) options.on_shard(inputs[i], i, inputs.size());
    merge_shard(c, inputs[i], options, report, false);
  }
}

void remove_merge_files(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
}

int64_t merge_table_rows(Connection& c, const char* table) {
  return c.query_int(std::string("SELECT count(*) FROM main.") + table);
}

// The first shard becomes the new corpus page by page (SQLite's backup API:
// no record is decoded, no index rebuilt).
void copy_first_shard(Connection& dest, const std::string& shard, MergeReport& report) {
  auto t = MergeClock::now();
  Connection src(shard, SQLITE_OPEN_READONLY, sqlite_read_only_uri(shard));
  src.exec("PRAGMA mmap_size = 2147418112");
  // Copied pages go straight to the file, not into the merge's large page cache.
  dest.exec("PRAGMA cache_size = -8192");
  sqlite3_backup* backup = sqlite3_backup_init(dest.raw(), "main", src.raw(), "main");
  if (!backup) throw_sqlite(dest.raw(), dest.path(), "cannot copy " + shard);
  int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    std::string msg = sqlite3_errstr(rc);
    throw CorpusError("corpus " + shard + ": copying it failed: " + msg);
  }
  // The copy carries the shard's WAL flag; building goes on without a journal.
  std::string mode = dest.query_text("PRAGMA journal_mode = OFF");
  if (mode != "off") throw CorpusError("corpus " + dest.path() + ": cannot turn the journal off (got '" + mode + "')");
  ShardMergeStats s;
  s.path = shard;
  s.blobs_added = merge_table_rows(dest, "blobs");
  s.runs_added = merge_table_rows(dest, "runs");
  s.environments_added = merge_table_rows(dest, "environments");
  s.tasks_added = merge_table_rows(dest, "tasks");
  s.validations_added = merge_table_rows(dest, "validations");
  s.rollouts_added = merge_table_rows(dest, "rollouts");
  s.work_items_added = merge_table_rows(dest, "work_items");
  s.audits_added = merge_table_rows(dest, "audits");
  s.seconds = merge_seconds_since(t);
  report.shards.push_back(s);
}

void create_schema(Connection& c) {
  c.exec("PRAGMA page_size = 16384");  // as Corpus::open makes a new file
  WriteTransaction tx(c);
  apply_migrations(c.raw(), c.path(), 0, kSchemaVersion);
  tx.commit();
}

// Secondary indexes whose keys are content ids, so that each row lands at a
// random place in them: a new output is filled without them and they are
// built once at the end, from sorted keys. The other secondary indexes grow
// at their ends (or a few places) and cost little to keep up while filling.
// (Indexes of PRIMARY KEY and UNIQUE constraints cannot be dropped.)
constexpr const char* kMergeRebuiltIndexes[] = {"tasks_environment", "tasks_content_hash"};

// Drops those indexes; returns their CREATE statements as the schema has them.
std::vector<std::string> drop_random_keyed_indexes(Connection& c) {
  std::vector<std::string> sql;
  WriteTransaction tx(c);
  for (const char* name : kMergeRebuiltIndexes) {
    Statement s(c.raw(), "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND name = ?", c.path());
    s.bind(1, name);
    if (!s.step()) continue;
    sql.push_back(s.text_at(0));
    s.reset();
    c.exec(std::string("DROP INDEX main.") + name);
  }
  tx.commit();
  return sql;
}

// A new output is built beside it in OUT.merging, without a journal (a
// rollback is never needed: the file is discarded on any error) and without
// its random-keyed secondary indexes, which are built once at the end; then it is synced
// and renamed into place. An interrupted merge leaves no OUT at all; the next
// run starts over. Every page is written once instead of twice through a WAL.
void merge_into_new(const std::string& out, const std::vector<std::string>& inputs,
                    const MergeOptions& options, MergeReport& report) {
  const std::string building = out + ".merging";
  remove_merge_files(building);  // left by an interrupted merge
  try {
    {
      Connection c(building, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, sqlite_file_uri(building));
      configure_merge_connection(c);
      // No other process has any business with the file being built.
      c.exec("PRAGMA main.locking_mode = EXCLUSIVE");
      c.exec("PRAGMA journal_mode = OFF");
      c.exec("PRAGMA synchronous = OFF");
      size_t next = 0;
      // A page copy would carry a damaged page along unseen: only a shard that
      // passed its integrity check is copied so; otherwise its records are read
      // one by one like any shard's.
      if (options.check_integrity) {
        if (options.on_shard) options.on_shard(inputs[0], 0, inputs.size());
        copy_first_shard(c, inputs[0], report);
        if (options.before_commit) options.before_commit(inputs[0]);
        next = 1;
      } else {
        create_schema(c);
      }
      std::vector<std::string> indexes;  // left out while filling, built at the end
      if (next < inputs.size()) indexes = drop_random_keyed_indexes(c);
      for (size_t i = next; i < inputs.size(); ++i) {
        if (options.on_shard) options.on_shard(inputs[i], i, inputs.size());
        merge_shard(c, inputs[i], options, report, true);
      }
      {
        auto t = MergeClock::now();
        WriteTransaction tx(c);
        if (options.before_indexes) options.before_indexes();
        for (const auto& sql : indexes) c.exec(sql);
        tx.commit();
        report.index_seconds = merge_seconds_since(t);
      }
      // The finished corpus is in WAL mode like any other.
      std::string mode = c.query_text("PRAGMA journal_mode = WAL");
      if (mode != "wal") throw CorpusError("corpus " + building + ": cannot switch to WAL mode (got '" + mode + "')");
    }
   
    // Durable before it gets its name; the name appears only if none exists.
    int fd = ::open(building.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      throw CorpusError("corpus " + building + ": cannot sync: " + strerror(err));
    }
    ::close(fd);
    if (::renameat2(AT_FDCWD, building.c_str(), AT_FDCWD, out.c_str(), RENAME_NOREPLACE) != 0)
      throw CorpusError("corpus " + out + ": cannot move the merged corpus into place: " + strerror(errno) +
                        (errno == EEXIST ? " (another process created it during the merge; rerun the merge)" : ""));
    std::string dir = std::filesystem::path(out).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  } catch (...) {
    remove_merge_files(building);
    throw;
  }
}

}  // namespace

MergeReport merge_corpora(const std::string& out, const std::vector<std::string>& shards,
                          const MergeOptions& options) {
  auto t = MergeClock::now();
  MergeReport report;
  report.out = out;
  std::vector<std::string> inputs = check_merge_inputs(out, shards, options);
  report.check_seconds = merge_seconds_since(t);
  struct stat st{};
  if (::stat(out.c_str(), &st) == 0)
    merge_into_existing(out, inputs, options, report);
  else
    merge_into_new(out, inputs, options, report);
  report.seconds = merge_seconds_since(t);
  return report;
}

}  // namespace envforge::data
