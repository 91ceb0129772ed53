#include "data/schema.h"

#include <string>

#include "data/corpus.h"
#include "data/sqlite_handle.h"

namespace envforge::data {

namespace {

// Version 1: the first corpus layout.
constexpr const char* kV1 = R"sql(
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  command TEXT NOT NULL,
  config TEXT NOT NULL,
  envforge_version TEXT NOT NULL,
  git_revision TEXT NOT NULL,
  host TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  shard_count INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  ended_at_ms INTEGER,
  summary TEXT
);
CREATE TABLE blobs (
  sha256 TEXT PRIMARY KEY,
  bytes BLOB NOT NULL
);
CREATE TABLE environments (
  id TEXT PRIMARY KEY,
  category TEXT NOT NULL,
  seed INTEGER NOT NULL,
  generator_name TEXT NOT NULL,
  generator_version TEXT NOT NULL,
  system_prompt TEXT NOT NULL,
  env_json TEXT NOT NULL,
  tools TEXT NOT NULL,
  tools_code_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  world_db_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE tasks (
  row INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  environment_id TEXT NOT NULL REFERENCES environments(id),
  content_hash TEXT NOT NULL,
  difficulty INTEGER NOT NULL,
  prompt TEXT NOT NULL,
  answer_schema TEXT NOT NULL,
  reference_solution TEXT NOT NULL,
  verifier_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  metadata TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('usable', 'rejected')),
  reject_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tasks_environment ON tasks(environment_id);
-- Children of a task refer to its integer row: their indexes grow at the end
-- instead of at random places, which keeps bulk writes fast.
CREATE TABLE validations (
  task_row INTEGER NOT NULL REFERENCES tasks(row),
  check_name TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  input_digest TEXT NOT NULL,
  expected_pass INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  score REAL NOT NULL,
  reason TEXT NOT NULL,
  as_expected INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  wall_ms INTEGER NOT NULL,
  output_digest TEXT NOT NULL,
  UNIQUE (task_row, check_name, attempt)
);
CREATE TABLE rollouts (
  row INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  task_row INTEGER NOT NULL REFERENCES tasks(row),
  model TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  trajectory TEXT NOT NULL,
  reward REAL NOT NULL,
  passed INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  wall_ms INTEGER NOT NULL
);
CREATE INDEX rollouts_task ON rollouts(task_row);
CREATE TABLE work_items (
  key TEXT PRIMARY KEY,
  environment_id TEXT NOT NULL REFERENCES environments(id),
  run_id TEXT REFERENCES runs(id),
  task_count INTEGER NOT NULL,
  recorded_at_ms INTEGER NOT NULL
);
)sql";

// Version 2: audits, and indexes that keep `envforge audit` aggregate queries
// fast on large corpora.
constexpr const char* kV2 = R"sql(
CREATE TABLE audits (
  id TEXT PRIMARY KEY,
  task_id TEXT REFERENCES tasks(id),
  environment_id TEXT REFERENCES environments(id),
  who TEXT NOT NULL,
  verdict TEXT NOT NULL,
  notes TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX audits_task ON audits(task_id);
CREATE INDEX tasks_content_hash ON tasks(content_hash);
CREATE INDEX tasks_status_difficulty ON tasks(status, difficulty);
CREATE INDEX environments_category ON environments(category);
CREATE INDEX validations_unexpected ON validations(check_name, reason) WHERE as_expected = 0;
)sql";

// Version 3: each task carries its environment's category, so that counts by
// category are one scan of an index instead of a join over every task.
constexpr const char* kV3 = R"sql(
ALTER TABLE tasks ADD COLUMN category TEXT NOT NULL DEFAULT '';
UPDATE tasks SET category = (SELECT e.category FROM environments e WHERE e.id = tasks.environment_id);
CREATE INDEX tasks_category ON tasks(category, status);
)sql";

// Version 4: validations are stored in the order of their key (task row,
// check, attempt) with no separate unique index: one B-tree instead of two
// per row, which writes and merges a dozen of per task.
constexpr const char* kV4 = R"sql(
CREATE TABLE validations_by_key (
  task_row INTEGER NOT NULL REFERENCES tasks(row),
  check_name TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  input_digest TEXT NOT NULL,
  expected_pass INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  score REAL NOT NULL,
  reason TEXT NOT NULL,
  as_expected INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  wall_ms INTEGER NOT NULL,
  output_digest TEXT NOT NULL,
  PRIMARY KEY (task_row, check_name, attempt)
) WITHOUT ROWID;
INSERT INTO validations_by_key SELECT task_row, check_name, attempt, input_digest, expected_pass,
  verdict, score, reason, as_expected, started_at_ms, wall_ms, output_digest FROM validations
  ORDER BY task_row, check_name, attempt;
DROP TABLE validations;
ALTER TABLE validations_by_key RENAME TO validations;
CREATE INDEX validations_unexpected ON validations(check_name, reason) WHERE as_expected = 0;
)sql";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {{1, kV1}, {2, kV2}, {3, kV3}, {4, kV4}};
  return kMigrations;
}

std::vector<std::string> required_tables(int version) {
  std::vector<std::string> tables;
  if (version >= 1)
    tables = {"runs", "blobs", "environments", "tasks", "validations", "rollouts", "work_items"};
  if (version >= 2) tables.push_back("audits");
  return tables;
}

void apply_migrations(sqlite3* db, const std::string& path, int from, int to) {
  for (const auto& m : migrations()) {
    if (m.version <= from || m.version > to) continue;
    char* err = nullptr;
    if (sqlite3_exec(db, m.sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw CorpusError("corpus " + path + ": migration to schema " + std::to_string(m.version) +
                        " failed: " + msg);
    }
  }
  std::string pragmas = "PRAGMA user_version = " + std::to_string(to) +
                        "; PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
  if (sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    throw_sqlite(db, path, "cannot set the schema version");
}

}  // namespace envforge::data
