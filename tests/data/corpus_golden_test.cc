// What the corpus stores is fixed: ids and every stored column of a set of
// sample work items must equal golden values taken from an earlier release,
// so that faster write paths cannot change existing corpora or their ids.
#include <gtest/gtest.h>

#include <string>

#include "data/content_id.h"
#include "data/corpus.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::query;
using testing::TempDir;

// Items with rollouts, text that needs escaping, an odd validation count, a
// twin of an earlier task (deduplicated) and one without validations.
std::vector<WorkItem> golden_items() {
  sample::Shape shape;
  shape.rollouts_per_task = 2;
  shape.validations_per_task = 19;  // more than one multi-row chunk
  std::vector<WorkItem> items;
  for (uint64_t i = 0; i < 5; ++i) items.push_back(sample::make_work_item(i, shape));
  auto& odd = items[2];
  odd.environment.system_prompt = "quote \" backslash \\ newline \n tab \t unicode \u00e9 \u4e2d";
  odd.environment.seed = 18446744073709551615ull;
  odd.tasks[1].prompt = "Plan \"it\"\t\u00fc\x01";
  odd.tasks[1].rollouts[0].trajectory.push_back({{"role", "assistant"}, {"content", "a\"b\\c"}});
  odd.tasks[2].validations.resize(1);
  odd.tasks[3].validations.clear();
  odd.tasks[4].verifier_code = "def verify(answer, world, task):\n    return None\n";
  items[3].tasks[0].rollouts.clear();
  items[4].run_id = "";
  return items;
}

// Every stored column of every table (wall-clock columns that the corpus
// fills with the current time excluded), as one digest.
std::string stored_digest(const std::string& path) {
  std::string all;
  for (const char* sql :
       {"SELECT key, environment_id, run_id, task_count FROM work_items ORDER BY key",
        "SELECT id, category, seed, generator_name, generator_version, system_prompt, env_json, "
        "tools, tools_code_sha256, world_db_sha256, created_at_ms FROM environments ORDER BY id",
        "SELECT row, id, environment_id, content_hash, difficulty, prompt, answer_schema, "
        "reference_solution, verifier_sha256, metadata, status, reject_reason, category "
        "FROM tasks ORDER BY row",
        "SELECT task_row, check_name, attempt, input_digest, expected_pass, verdict, "
        "score, reason, as_expected, started_at_ms, wall_ms, output_digest FROM validations "
        "ORDER BY task_row, check_name, attempt",
        "SELECT row, id, task_row, model, attempt, trajectory, reward, passed, prompt_tokens, "
        "completion_tokens, started_at_ms, wall_ms FROM rollouts ORDER BY row",
        "SELECT sha256, hex(bytes) FROM blobs ORDER BY sha256"}) {
    for (const auto& row : query(path, sql)) all += row + "\n";
    all += "--\n";
  }
  return sha256_hex(all);
}

TEST(CorpusGolden, IdsOfASampleItemAreStable) {
  sample::Shape shape;
  shape.rollouts_per_task = 1;
  auto item = sample::make_work_item(7, shape);
  std::string env = environment_id(item.environment);
  EXPECT_EQ(env, "25a3c3c219cb4416df116d29dc13a9551f1cebe2aa1d720ba1f93ba20d33f966");
  EXPECT_EQ(task_content_hash(item.tasks[2]), "653ea6f3e94eabb12e6d0a27efba0582e41b507fdd07a68f860f6e4592723291");
  std::string task = task_id(env, item.tasks[2]);
  EXPECT_EQ(task, "2925da9e9b3f507178084c027799ba82e7117890ae6366e3624ad73cee82c70d");
  EXPECT_EQ(rollout_id(task, item.tasks[2].rollouts[0]), "4f8ec02addb52d3629a97df13e6df53303fdb865e854e0ace34e9b8c558fc363");
  EXPECT_EQ(validation_id(task, item.tasks[2].validations[3]), "904e9e572d9c93bb50c2d5f0f998dfcf31f2cc2a6497a55afcd86be6a0a23e98");
  EXPECT_EQ(item.key, "519fa75177345a9bf285c66dfc3010c166c21c47ff512a7468ca38bb6e25989d");
}

TEST(CorpusGolden, StoredRowsEqualTheGoldenCorpus) {
  TempDir dir;
  std::string path = dir.file("c.db");
  auto items = golden_items();
  {
    Corpus c = Corpus::open(path);
    EXPECT_TRUE(c.record_work_item(items[0]));
    EXPECT_EQ(c.record_work_items(std::span<const WorkItem>(items.data() + 1, 3)), 3u);
    // A twin of item 1 under another key: its tasks exist, so only the work item is new.
    WorkItem twin = items[1];
    twin.key = "twin";
    EXPECT_TRUE(c.record_work_item(twin));
    EXPECT_EQ(c.record_work_items(items), 1u);  // only item 4 is new
  }
  EXPECT_EQ(stored_digest(path), "6df95099ffd729160fceb194f461a13506f66af87aa7e2cd454a584e6f36efa8");
}

}  // namespace
}  // namespace envforge::data
