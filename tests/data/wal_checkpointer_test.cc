// The WAL checkpointer: committed frames are copied by a thread while the
// writer goes on, the WAL stays bounded, readers keep their snapshots, and
// every committed row is in the database afterwards.
#include "data/wal_checkpointer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "data/sqlite_handle.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

constexpr int64_t kRestartBytes = 256 << 10;

// A new WAL-mode database with one table, and the connection that writes it.
struct WalFile {
  testing::TempDir dir;
  const std::string path = dir.file("c.db");
  Connection writer{path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE};
  WalFile() {
    writer.exec("PRAGMA page_size = 4096");
    writer.exec("PRAGMA journal_mode = WAL");
    writer.exec("PRAGMA synchronous = NORMAL");
    writer.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB NOT NULL)");
  }
};

// One transaction of `rows` rows with random keys (each dirties index pages
// all over the file, as content ids do).
void write_rows(Connection& c, std::mt19937_64& rng, int rows) {
  WriteTransaction tx(c);
  Statement s(c.raw(), "INSERT INTO t(k, v) VALUES (?, ?)", c.path());
  for (int i = 0; i < rows; ++i) {
    char key[33];
    std::snprintf(key, sizeof key, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    s.reset();
    s.bind(1, std::string(key));
    s.bind_blob(2, std::string(300, static_cast<char>('a' + i % 26)));
    s.run();
  }
  tx.commit();
}

int64_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

TEST(WalCheckpointer, KeepsTheWalBoundedWhileTheWriterGoesOn) {
  WalFile file;
  const std::string& path = file.path;
  Connection& writer = file.writer;
  std::mt19937_64 rng(7);
  int64_t largest_wal = 0;
  int64_t background = 0;
  {
    WalCheckpointer checkpointer(writer, kRestartBytes);
    // 14 MB of rows; without checkpoints the WAL would pass 150 MB, since
    // each commit rewrites the index pages its random keys land on.
    for (int tx = 0; tx < 800; ++tx) {
      write_rows(writer, rng, 50);
      largest_wal = std::max(largest_wal, file_size(path + "-wal"));
    }
    background = checkpointer.background_checkpoints();
    EXPECT_GT(checkpointer.writer_checkpoints(), 0);
  }
  EXPECT_GT(background, 0) << "the thread copied nothing";
  // The restart size, or four of the largest commits (each ~17 KB of rows
  // plus the index pages it dirtied, ~260 KB), and one commit more.
  EXPECT_LT(largest_wal, 2 << 20) << "the WAL was not started over in time";
  EXPECT_GT(file_size(path), 12 << 20);

  Connection reader(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(reader.query_int("SELECT count(*) FROM t"), 800 * 50);
  EXPECT_EQ(reader.query_text("PRAGMA integrity_check"), "ok");
}

TEST(WalCheckpointer, AReaderKeepsItsSnapshotAndOnlyDelaysTheRestart) {
  WalFile file;
  const std::string& path = file.path;
  Connection& writer = file.writer;
  std::mt19937_64 rng(11);
  WalCheckpointer checkpointer(writer, kRestartBytes);
  write_rows(writer, rng, 500);

  Connection reader(path, SQLITE_OPEN_READONLY);
  reader.exec("BEGIN");
  EXPECT_EQ(reader.query_int("SELECT count(*) FROM t"), 500);
  for (int tx = 0; tx < 60; ++tx) write_rows(writer, rng, 100);
  // Frames the reader's snapshot needs cannot be copied over: it still sees
  // its 500 rows, and the WAL grew past its bound meanwhile.
  EXPECT_EQ(reader.query_int("SELECT count(*) FROM t"), 500);
  EXPECT_EQ(reader.query_text("PRAGMA quick_check"), "ok");
  reader.exec("COMMIT");
  const int64_t grown = file_size(path + "-wal");
  EXPECT_GT(grown, 4 << 20);

  // Once the reader has let go, the WAL starts over after the next commit:
  // writing as much again reuses the file instead of doubling it.
  for (int tx = 0; tx < 60; ++tx) write_rows(writer, rng, 100);
  EXPECT_LE(file_size(path + "-wal"), grown + (1 << 20));
  EXPECT_EQ(reader.query_int("SELECT count(*) FROM t"), 500 + 2 * 60 * 100);
}

// One huge batch raises the size the WAL may reach before the writer finishes
// a checkpoint; small commits after it bring that size down again.
TEST(WalCheckpointer, AHugeCommitIsForgottenByLaterSmallOnes) {
  WalFile file;
  const std::string& path = file.path;
  Connection& writer = file.writer;
  // A reader holding a snapshot across each commit keeps the thread from
  // copying the newest frames, so the WAL is not started over by the thread
  // alone and the writer's own checkpoints are what the test sees.
  Connection reader(path, SQLITE_OPEN_READONLY);
  std::mt19937_64 rng(5);
  WalCheckpointer checkpointer(writer, kRestartBytes);
  write_rows(writer, rng, 20000);  // ~8 MB: thirty times the restart size
  const int64_t after_huge = checkpointer.writer_checkpoints();
  for (int tx = 0; tx < 60; ++tx) {
    reader.exec("BEGIN");
    reader.query_int("SELECT count(*) FROM t");
    write_rows(writer, rng, 20);
    reader.exec("COMMIT");
  }
  EXPECT_GT(checkpointer.writer_checkpoints(), after_huge) << "the huge commit's size still rules";
  EXPECT_EQ(reader.query_int("SELECT count(*) FROM t"), 20000 + 60 * 20);
}

}  // namespace
}  // namespace envforge::data
