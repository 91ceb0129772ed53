// Crash safety: a writer process killed with SIGKILL at several points leaves a
// valid corpus holding only whole work items, and re-running the same job
// writes exactly the missing items. Also: two writer processes on one corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "data/corpus.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::Child;
using testing::query;
using testing::query_int;
using testing::TempDir;

constexpr int kItems = 40;
constexpr int kTasksPerItem = 4;     // the writer's sample shape
constexpr int kValidationsPerTask = 6;

sample::Shape writer_shape() {
  sample::Shape shape;
  shape.tasks_per_item = kTasksPerItem;
  shape.validations_per_task = kValidationsPerTask;
  shape.rollouts_per_task = 1;
  return shape;
}

std::vector<std::string> writer_args(const std::string& path, int from, int to,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {CORPUS_TEST_WRITER, path, std::to_string(from),
                                   std::to_string(to)};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Indexes in lines "wrote I" (or other `verb`).
std::set<int> indexes(const std::vector<std::string>& lines, const std::string& verb = "wrote") {
  std::set<int> out;
  for (const auto& l : lines)
    if (l.rfind(verb + " ", 0) == 0) out.insert(std::stoi(l.substr(verb.size() + 1)));
  return out;
}

// Everything the corpus holds, as comparable rows (no wall-clock columns).
std::vector<std::string> content(const std::string& path) {
  std::vector<std::string> all;
  for (const char* sql :
       {"SELECT 'w', key, environment_id, task_count FROM work_items",
        "SELECT 'e', id FROM environments", "SELECT 't', id, status FROM tasks",
        "SELECT 'v', t.id, check_name, attempt, verdict FROM validations v "
        "JOIN tasks t ON t.row = v.task_row",
        "SELECT 'r', id FROM rollouts",
        "SELECT 'b', sha256 FROM blobs"}) {
    auto rows = query(path, sql);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

// The file is valid and every recorded work item is whole; nothing else is there.
void expect_only_whole_items(const std::string& path, size_t want_items) {
  EXPECT_EQ(query(path, "PRAGMA integrity_check")[0], "ok");
  EXPECT_EQ(query(path, "PRAGMA foreign_key_check").size(), 0u);
  long long items = query_int(path, "SELECT count(*) FROM work_items");
  EXPECT_EQ(items, static_cast<long long>(want_items));
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM environments"), items);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM tasks"), items * kTasksPerItem);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM validations"),
            items * kTasksPerItem * kValidationsPerTask);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM rollouts"), items * kTasksPerItem);
  // No environment without its work item, no work item short of tasks.
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM environments e WHERE NOT EXISTS "
                            "(SELECT 1 FROM work_items w WHERE w.environment_id = e.id)"),
            0);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM work_items w WHERE task_count != "
                            "(SELECT count(*) FROM tasks t WHERE t.environment_id = w.environment_id)"),
            0);
}

class CorpusCrash : public ::testing::Test {
 protected:
  // A clean, uninterrupted run of the same job, to compare with.
  static const std::vector<std::string>& clean_content() {
    static const std::vector<std::string> rows = [] {
      TempDir dir;
      std::string path = dir.file("clean.db");
      Child w(writer_args(path, 0, kItems));
      EXPECT_TRUE(w.wait_for("finished"));
      EXPECT_EQ(w.wait(), 0);
      return content(path);
    }();
    return rows;
  }

  // Kills the writer once `trigger` appears, checks the survivor, resumes.
  void kill_and_resume(const std::string& trigger, std::vector<std::string> extra,
                       bool in_transaction) {
    TempDir dir;
    std::string path = dir.file("c.db");
    std::vector<std::string> seen;
    {
      Child w(writer_args(path, 0, kItems, extra));
      ASSERT_TRUE(w.wait_for(trigger, &seen)) << "writer never printed " << trigger;
      w.kill9();
      EXPECT_EQ(w.wait(), 128 + SIGKILL);
      auto tail = w.rest();  // reports already in the pipe when it died
      seen.insert(seen.end(), tail.begin(), tail.end());
    }
    std::set<int> reported = indexes(seen);
    // What the file holds; the writer may have died between a commit and its report.
    std::set<int> committed;
    {
      Corpus c = Corpus::open(path);
      for (int i = 0; i < kItems; ++i)
        if (c.has_work_item(sample::make_work_item(i, writer_shape()).key)) committed.insert(i);
    }
    for (int i : reported) EXPECT_EQ(committed.count(i), 1u) << "reported item " << i << " lost";
    EXPECT_LE(committed.size(), reported.size() + 1);
    expect_only_whole_items(path, committed.size());
    if (in_transaction) {
      // The item the writer was inside of when killed is not there.
      int paused = std::stoi(trigger.substr(std::string("in-transaction ").size()));
      EXPECT_EQ(committed.count(paused), 0u);
      EXPECT_EQ(committed, reported);
    }
    // Resume: the same job skips what is there and writes exactly the rest.
    Child again(writer_args(path, 0, kItems));
    std::vector<std::string> lines;
    ASSERT_TRUE(again.wait_for("finished", &lines));
    EXPECT_EQ(again.wait(), 0);
    EXPECT_EQ(indexes(lines, "skip"), committed);
    std::set<int> wrote = indexes(lines);
    EXPECT_EQ(wrote.size() + committed.size(), static_cast<size_t>(kItems));
    for (int i : wrote) EXPECT_EQ(committed.count(i), 0u) << "item " << i << " written twice";
    expect_only_whole_items(path, kItems);
    EXPECT_EQ(content(path), clean_content());
  }
};

TEST_F(CorpusCrash, KilledBeforeTheFirstCommit) {
  kill_and_resume("in-transaction 0", {"--pause-before-commit", "0"}, true);
}

TEST_F(CorpusCrash, KilledAfterTheFirstItem) { kill_and_resume("wrote 0", {}, false); }

TEST_F(CorpusCrash, KilledInsideAnItemMidway) {
  kill_and_resume("in-transaction 17", {"--pause-before-commit", "17"}, true);
}

TEST_F(CorpusCrash, KilledInsideABatch) {
  // Items 20..23 are one transaction: none of them survives.
  kill_and_resume("in-transaction 22", {"--batch", "4", "--pause-before-commit", "22"}, true);
}

TEST_F(CorpusCrash, KilledWhileWritingFreely) {
  // No pause: the kill lands wherever the writer happens to be.
  kill_and_resume("wrote 25", {}, false);
}

TEST_F(CorpusCrash, KilledInsideTheLastItem) {
  kill_and_resume("in-transaction 39", {"--pause-before-commit", "39"}, true);
}

TEST(CorpusConcurrency, TwoWriterProcessesOnOneCorpus) {
  TempDir dir;
  std::string path = dir.file("c.db");
  // Overlapping ranges, started together: both wait for the other's locks.
  Child a(writer_args(path, 0, 30));
  Child b(writer_args(path, 15, kItems));
  std::vector<std::string> la = a.rest(), lb = b.rest();
  EXPECT_EQ(a.wait(), 0);
  EXPECT_EQ(b.wait(), 0);
  ASSERT_FALSE(la.empty());
  ASSERT_FALSE(lb.empty());
  EXPECT_EQ(la.back(), "finished");
  EXPECT_EQ(lb.back(), "finished");
  std::set<int> wa = indexes(la), wb = indexes(lb);
  for (int i : wa) EXPECT_EQ(wb.count(i), 0u) << "item " << i << " written by both";
  EXPECT_EQ(wa.size() + wb.size(), static_cast<size_t>(kItems));
  expect_only_whole_items(path, kItems);
}

TEST(CorpusConcurrency, ManyProcessesCreatingOneCorpusAtOnceAllSucceed) {
  // Every opener races the others' creation and migration of the file: none may mistake a
  // half-seen corpus for a foreign database or give up on a lock it could have waited for.
  for (int round = 0; round < 8; ++round) {
    TempDir dir;
    std::string path = dir.file("c.db");
    std::vector<std::unique_ptr<Child>> writers;
    for (int w = 0; w < 6; ++w) writers.push_back(std::make_unique<Child>(writer_args(path, w, w + 1)));
    for (auto& w : writers) {
      std::vector<std::string> lines = w->rest();
      EXPECT_EQ(w->wait(), 0) << "round " << round;
      ASSERT_FALSE(lines.empty()) << "round " << round;
      EXPECT_EQ(lines.back(), "finished") << "round " << round;
    }
    expect_only_whole_items(path, 6);
  }
}

TEST(CorpusConcurrency, ReaderSeesWholeItemsWhileAWriterRuns) {
  TempDir dir;
  std::string path = dir.file("c.db");
  { Corpus::open(path); }
  Child w(writer_args(path, 0, kItems));
  Corpus reader = Corpus::open(path);
  std::string line;
  int checks = 0;
  while (w.next_line(&line)) {
    auto s = reader.audit_summary();
    EXPECT_EQ(s.tasks, s.environments * kTasksPerItem);
    ++checks;
  }
  EXPECT_EQ(w.wait(), 0);
  EXPECT_GT(checks, 0);
  EXPECT_EQ(reader.audit_summary().environments, kItems);
}

}  // namespace
}  // namespace envforge::data
