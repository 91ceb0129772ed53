// Batched writes, whose canonical texts and ids are prepared on a second
// thread: same rows as one item at a time, errors raised at the item that has
// them with the whole batch rolled back, recorded items skipped unread.
#include <gtest/gtest.h>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/item_prep.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::query;
using testing::query_int;
using testing::TempDir;

std::vector<WorkItem> items(uint64_t from, uint64_t to) {
  sample::Shape shape;
  shape.rollouts_per_task = 1;
  std::vector<WorkItem> out;
  for (uint64_t i = from; i < to; ++i) out.push_back(sample::make_work_item(i, shape));
  return out;
}

// Every stored column but the recording time, in a stable order.
std::vector<std::string> rows(const std::string& path) {
  std::vector<std::string> all;
  for (const char* sql :
       {"SELECT key, environment_id, task_count FROM work_items ORDER BY key",
        "SELECT id, env_json, tools, tools_code_sha256, world_db_sha256 FROM environments ORDER BY id",
        "SELECT id, environment_id, content_hash, answer_schema, reference_solution, metadata, "
        "verifier_sha256, status FROM tasks ORDER BY id",
        "SELECT t.id, check_name, attempt, input_digest, verdict FROM validations v "
        "JOIN tasks t ON t.row = v.task_row ORDER BY t.id, check_name, attempt",
        "SELECT r.id, trajectory FROM rollouts r ORDER BY r.id",
        "SELECT sha256 FROM blobs ORDER BY sha256"}) {
    auto r = query(path, sql);
    all.insert(all.end(), r.begin(), r.end());
  }
  return all;
}

TEST(CorpusBatch, BatchStoresTheSameRowsAsSingleItems) {
  TempDir dir;
  auto batch = items(0, 40);
  {
    Corpus one = Corpus::open(dir.file("one.db"));
    for (const auto& item : batch) EXPECT_TRUE(one.record_work_item(item));
    Corpus many = Corpus::open(dir.file("many.db"));
    EXPECT_EQ(many.record_work_items(batch), batch.size());
  }
  auto a = rows(dir.file("one.db"));
  EXPECT_EQ(a.size(), 40u * (1 + 1 + 6 + 6 * 12 + 6) + 40 + 2);
  EXPECT_EQ(a, rows(dir.file("many.db")));
}

TEST(CorpusBatch, BadItemLateInABatchRollsBackTheWholeBatch) {
  TempDir dir;
  std::string path = dir.file("c.db");
  Corpus c = Corpus::open(path);
  auto batch = items(0, 30);
  batch[25].tasks[3].prompt = std::string("bad \xff utf-8");  // no canonical form
  try {
    c.record_work_items(batch);
    FAIL() << "expected CorpusError";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM work_items"), 0);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM validations"), 0);
  // An error at the first item stops the preparing thread early; still nothing written.
  batch = items(0, 30);
  batch[0].environment.env_json["x"] = std::string("\xc3\x28");
  EXPECT_THROW(c.record_work_items(batch), CorpusError);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM tasks"), 0);
  // The corpus is usable afterwards.
  EXPECT_EQ(c.record_work_items(items(0, 30)), 30u);
}

TEST(CorpusBatch, RecordedItemsAreSkippedWithoutBeingRead) {
  TempDir dir;
  std::string path = dir.file("c.db");
  Corpus c = Corpus::open(path);
  EXPECT_EQ(c.record_work_items(items(0, 10)), 10u);
  // A recorded key whose content would now fail to canonicalise: skipped, as
  // it is when written alone.
  auto batch = items(5, 20);
  batch[2].tasks[0].metadata["note"] = std::string("\xc3\x28");
  EXPECT_FALSE(c.record_work_item(batch[2]));
  EXPECT_EQ(c.record_work_items(batch), 10u);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM work_items"), 20);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM tasks"), 20 * 6);
}

TEST(ItemPreparer, PreparedIdsEqualTheContentIds) {
  auto batch = items(0, 5);
  batch[1].tasks[2].id = "given-id";  // ids given by the caller are kept
  DigestMemo memo;
  ItemPreparer prep(batch, memo);
  for (size_t i = 0; i < batch.size(); ++i) {
    const PreparedItem& p = prep.get(i);
    std::string env = environment_id(batch[i].environment);
    EXPECT_EQ(p.env_id, env);
    ASSERT_EQ(p.tasks.size(), batch[i].tasks.size());
    for (size_t k = 0; k < p.tasks.size(); ++k) {
      EXPECT_EQ(p.tasks[k].hash, task_content_hash(batch[i].tasks[k]));
      EXPECT_EQ(p.tasks[k].id, i == 1 && k == 2 ? "given-id" : task_id(env, batch[i].tasks[k]));
      ASSERT_EQ(p.tasks[k].rollouts.size(), 1u);
      EXPECT_EQ(p.tasks[k].rollouts[0].id,
                rollout_id(p.tasks[k].id, batch[i].tasks[k].rollouts[0]));
    }
  }
}

}  // namespace
}  // namespace envforge::data
