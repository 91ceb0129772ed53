// The schema of a new corpus and forward migrations from every earlier version.
#include <gtest/gtest.h>

#include <algorithm>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/schema.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::query;
using testing::query_int;
using testing::TempDir;

std::vector<std::string> schema_of(const std::string& path) {
  auto rows = query(path, "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master "
                          "ORDER BY type, name");
  return rows;
}

TEST(CorpusSchema, NewCorpusHasVersionWalAndEveryTable) {
  TempDir dir;
  std::string path = dir.file("c.db");
  {
    Corpus c = Corpus::open(path);
    EXPECT_EQ(c.schema_version(), kSchemaVersion);
  }
  EXPECT_EQ(query_int(path, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(query_int(path, "PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(query(path, "PRAGMA journal_mode")[0], "wal");
  for (const auto& table : required_tables(kSchemaVersion))
    EXPECT_EQ(query_int(path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='" +
                                  table + "'"),
              1)
        << table;
  // The tables the issue names, and the columns readers depend on.
  auto cols = query(path, "SELECT name FROM pragma_table_info('tasks')");
  for (const char* col : {"prompt", "difficulty", "answer_schema", "reference_solution",
                          "verifier_sha256", "content_hash", "status", "reject_reason"})
    EXPECT_NE(std::find(cols.begin(), cols.end(), col), cols.end()) << col;
  cols = query(path, "SELECT name FROM pragma_table_info('environments')");
  for (const char* col : {"category", "seed", "generator_name", "generator_version", "env_json",
                          "world_db_sha256", "tools"})
    EXPECT_NE(std::find(cols.begin(), cols.end(), col), cols.end()) << col;
}

TEST(CorpusSchema, MigrationsAreOrderedAndEndAtTheCurrentVersion) {
  const auto& ms = migrations();
  ASSERT_FALSE(ms.empty());
  for (size_t i = 0; i < ms.size(); ++i) EXPECT_EQ(ms[i].version, static_cast<int>(i) + 1);
  EXPECT_EQ(ms.back().version, kSchemaVersion);
}

TEST(CorpusSchema, ForeignKeysAreEnforced) {
  TempDir dir;
  Corpus c = Corpus::open(dir.file("c.db"));
  auto item = sample::make_work_item(1);
  item.run_id = std::string(64, 'f');  // no such run
  EXPECT_THROW(c.record_work_item(item), CorpusError);
  EXPECT_FALSE(c.has_work_item(item.key));
  EXPECT_EQ(c.audit_summary().environments, 0);  // the whole item rolled back
}

// Builds a corpus file at an earlier schema version, the way that version's
// build would have, with one environment and one task in it.
void make_old_corpus(const std::string& path, int version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
  if (version > 0) {
    ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    apply_migrations(db, path, 0, version);
    // Rows as every version since 1 stores them.
    const char* rows = R"sql(
      INSERT INTO blobs VALUES ('aa', x'00'), ('bb', 'def verify(): pass');
      INSERT INTO environments VALUES ('env1', 'trip', 7, 'trip', '0.9', 'sys', '{}',
        '[{"name":"list_cities","schema":{}}]', 'aa', 'aa', 1);
      INSERT INTO tasks(row, id, environment_id, content_hash, difficulty, prompt, answer_schema,
        reference_solution, verifier_sha256, metadata, status, reject_reason)
        VALUES (1, 'task1', 'env1', 'hash1', 2, 'Plan a trip', '{}', '{"days":1}', 'bb', '{}',
        'usable', '');
      INSERT INTO validations VALUES (1, 'reference', 0, 'd', 1, 'pass', 1.0, '', 1, 1, 5, 'o');
      INSERT INTO work_items VALUES ('key1', 'env1', NULL, 1, 1);
    )sql";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, rows, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    // Since version 3 a task carries its environment's category.
    if (version >= 3)
      ASSERT_EQ(sqlite3_exec(db, "UPDATE tasks SET category = 'trip'", nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  sqlite3_close(db);
}

TEST(CorpusSchema, MigratesFromEveryEarlierVersion) {
  TempDir dir;
  std::string fresh = dir.file("fresh.db");
  { Corpus::open(fresh); }
  for (int from = 0; from < kSchemaVersion; ++from) {
    SCOPED_TRACE("from schema version " + std::to_string(from));
    std::string path = dir.file("v" + std::to_string(from) + ".db");
    make_old_corpus(path, from);
    {
      Corpus c = Corpus::open(path);
      EXPECT_EQ(c.schema_version(), kSchemaVersion);
      if (from > 0) {
        EXPECT_TRUE(c.has_work_item("key1"));
        auto env = c.environment("env1");
        ASSERT_TRUE(env.has_value());
        EXPECT_EQ(env->seed, 7u);
        ASSERT_EQ(env->tools.size(), 1u);
        EXPECT_EQ(env->tools[0].name, "list_cities");
        auto task = c.task("task1");
        ASSERT_TRUE(task.has_value());
        EXPECT_EQ(task->verifier_code, "def verify(): pass");
        ASSERT_EQ(task->validations.size(), 1u);
        auto summary = c.audit_summary();
        EXPECT_EQ(summary.tasks, 1);
        // Filled in from the environment by the migration that added it.
        EXPECT_EQ(summary.tasks_by_category["trip"], 1);
      }
      // The migrated file accepts new writes.
      EXPECT_TRUE(c.record_work_item(sample::make_work_item(1)));
    }
    EXPECT_EQ(query_int(path, "PRAGMA user_version"), kSchemaVersion);
    // Same tables, columns and indexes as a corpus created by this build.
    EXPECT_EQ(schema_of(path), schema_of(fresh));
    EXPECT_EQ(query(path, "PRAGMA integrity_check")[0], "ok");
    // Opening again is a no-op.
    { Corpus again = Corpus::open(path); }
    EXPECT_EQ(query_int(path, "PRAGMA user_version"), kSchemaVersion);
  }
}

TEST(CorpusSchema, FailedMigrationLeavesTheOldVersion) {
  TempDir dir;
  std::string path = dir.file("c.db");
  make_old_corpus(path, kSchemaVersion - 1);
  // A stray object that the next migration also creates makes it fail midway.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // (validations_by_key is created by the last migration.)
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE validations_by_key(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  try {
    Corpus::open(path);
    FAIL() << "migration should have failed";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("migration to schema"), std::string::npos) << e.what();
  }
  EXPECT_EQ(query_int(path, "PRAGMA user_version"), kSchemaVersion - 1);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM validations"), 1);
}

}  // namespace
}  // namespace envforge::data
