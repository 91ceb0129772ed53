// Opening files that are not (valid) envforge corpora: a clear error, and the
// file is left exactly as it was.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "data/corpus.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

// Expects Corpus::open to refuse `path` with a message containing `needle`,
// and the file (and its absence of side files) to be unchanged.
void expect_refused(const std::string& path, const std::string& needle,
                    const OpenOptions& options = {}) {
  std::string before = read_bytes(path);
  bool had_wal = std::filesystem::exists(path + "-wal");
  try {
    Corpus::open(path, options);
    ADD_FAILURE() << path << " was accepted";
  } catch (const CorpusError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << "message must name the file: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
  EXPECT_EQ(read_bytes(path), before) << "file was modified";
  if (!had_wal) {
    EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-journal"));
}

TEST(CorpusOpen, TextFileIsRefused) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  write_bytes(path, "These are my notes, not a database.\nSecond line.\n");
  expect_refused(path, "not an SQLite database");
}

TEST(CorpusOpen, ShortFileWithSqliteMagicIsRefused) {
  TempDir dir;
  std::string path = dir.file("short.db");
  write_bytes(path, std::string("SQLite format 3\0", 16) + std::string(40, 'x'));
  expect_refused(path, "corrupt");
}

TEST(CorpusOpen, OtherApplicationsDatabaseIsRefused) {
  TempDir dir;
  std::string path = dir.file("app.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); "
               "INSERT INTO users(name) VALUES ('ada');", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  expect_refused(path, "another application");
  expect_refused(path, "users");  // says what it found
}

TEST(CorpusOpen, NewerSchemaIsRefused) {
  TempDir dir;
  std::string path = dir.file("future.db");
  { Corpus c = Corpus::open(path); c.record_work_item(sample::make_work_item(1)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1)).c_str(),
               nullptr, nullptr, nullptr);
  sqlite3_close(db);  // checkpoints and removes the WAL
  expect_refused(path, "newer envforge");
}

TEST(CorpusOpen, CorruptPagesAreRefused) {
  TempDir dir;
  std::string path = dir.file("corrupt.db");
  { Corpus c = Corpus::open(path); c.record_work_item(sample::make_work_item(1)); }
  std::string bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 8192u);
  // Scribble over page 1 after the header (the schema table) .
  for (size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(i * 31);
  write_bytes(path, bytes);
  expect_refused(path, "corrupt");
}

TEST(CorpusOpen, DamagedDataIsFoundByTheIntegrityCheck) {
  TempDir dir;
  std::string path = dir.file("damaged.db");
  { Corpus c = Corpus::open(path); for (int i = 0; i < 20; ++i) c.record_work_item(sample::make_work_item(i)); }
  std::string bytes = read_bytes(path);
  // Scribble over the middle of the file: data pages, not the schema.
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 8192; ++i) bytes[i] = static_cast<char>(i * 7);
  write_bytes(path, bytes);
  OpenOptions options;
  options.check_integrity = true;
  expect_refused(path, "corrupt", options);
}

TEST(CorpusOpen, MissingTableIsRefused) {
  TempDir dir;
  std::string path = dir.file("partial.db");
  { Corpus::open(path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "DROP TABLE rollouts", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  expect_refused(path, "table 'rollouts' is missing");
}

TEST(CorpusOpen, DirectoryIsRefused) {
  TempDir dir;
  try {
    Corpus::open(dir.file(""));
    FAIL();
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
}

TEST(CorpusOpen, EmptyFileBecomesACorpus) {
  TempDir dir;
  std::string path = dir.file("empty.db");
  write_bytes(path, "");
  Corpus c = Corpus::open(path);
  EXPECT_EQ(c.schema_version(), kSchemaVersion);
  EXPECT_TRUE(c.record_work_item(sample::make_work_item(0)));
}

TEST(CorpusOpen, ReadOnlyNeverCreates) {
  TempDir dir;
  OpenOptions ro;
  ro.read_only = true;
  EXPECT_THROW(Corpus::open(dir.file("absent.db"), ro), CorpusError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("absent.db")));
  std::string path = dir.file("c.db");
  { Corpus c = Corpus::open(path); c.record_work_item(sample::make_work_item(0)); }
  Corpus r = Corpus::open(path, ro);
  EXPECT_EQ(r.audit_summary().environments, 1);
  EXPECT_THROW(r.record_work_item(sample::make_work_item(1)), CorpusError);
}

}  // namespace
}  // namespace envforge::data

namespace envforge::data {
namespace {

// A process that has the corpus open (a server) opens it again (its audit view does), then
// another process opens and closes it. Had the second open read the file through a descriptor
// of its own, closing that would have dropped the first connection's locks, the other process
// would have taken itself for the last user and removed the WAL, and later writes would be lost.
TEST(CorpusOpen, OpeningAgainKeepsTheLocksOfTheConnectionAlreadyOpen) {
  TempDir dir;
  const std::string path = dir.file("served.db");
  Corpus served = Corpus::open(path);
  served.record_work_item(sample::make_work_item(1));
  {
    OpenOptions read_only;
    read_only.read_only = true;
    Corpus again = Corpus::open(path, read_only);
    EXPECT_EQ(again.work_item_keys().size(), 1u);
  }
  // A fresh process (not a fork, which would inherit SQLite's record of this one's locks).
  const std::string other = "sqlite3 '" + path + "' 'SELECT count(*) FROM tasks' > /dev/null";
  ASSERT_EQ(std::system(other.c_str()), 0) << other;
  served.record_work_item(sample::make_work_item(2));
  served.record_work_item(sample::make_work_item(3));
  OpenOptions check;
  check.read_only = true;
  check.check_integrity = true;
  EXPECT_EQ(Corpus::open(path, check).work_item_keys().size(), 3u);
}

}  // namespace
}  // namespace envforge::data
