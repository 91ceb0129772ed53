// `envforge merge` and `envforge synth --shard` as a user runs them: exit
// codes, messages, and files left as they were when an input is refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/corpus.h"
#include "tests/cluster/run_command.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge {
namespace {

using data::testing::query;
using data::testing::query_int;
using data::testing::TempDir;

using cluster_test::envforge_bin;
using cluster_test::Ran;
using cluster_test::run_command;

void cli_shard(const std::string& path, uint64_t from, uint64_t to) {
  data::Corpus c = data::Corpus::open(path);
  for (uint64_t i = from; i < to; ++i) c.record_work_item(data::sample::make_work_item(i));
}

TEST(MergeCli, MergesReportsAndIsIdempotent) {
  TempDir dir;
  cli_shard(dir.file("a.db"), 0, 3);
  cli_shard(dir.file("b.db"), 3, 5);
  Ran r = run_command(envforge_bin() + " merge --out " + dir.file("all.db") + " " + dir.file("a.db") + " " + dir.file("b.db"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("30 task(s) added"), std::string::npos) << r.output;
  EXPECT_EQ(query_int(dir.file("all.db"), "SELECT count(*) FROM tasks"), 30);
  r = run_command(envforge_bin() + " merge --json --out " + dir.file("all.db") + " " + dir.file("a.db") + " " + dir.file("b.db"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["shards"][0]["tasks_added"], 0);
  EXPECT_EQ(j["shards"][0]["tasks_present"], 18);
  EXPECT_EQ(j["conflict_count"], 0);
}

TEST(MergeCli, ConflictExitsThreeAndKeepsTheRecord) {
  TempDir dir;
  cli_shard(dir.file("a.db"), 0, 2);
  cli_shard(dir.file("b.db"), 0, 2);
  data::testing::query(dir.file("b.db"), "SELECT 1");  // readable
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("b.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE tasks SET prompt = 'changed' WHERE row = 1", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  Ran r = run_command(envforge_bin() + " merge --quiet --out " + dir.file("all.db") + " " + dir.file("a.db") + " " + dir.file("b.db"));
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("conflict: task"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("prompt"), std::string::npos) << r.output;
  EXPECT_EQ(query(dir.file("all.db"), "SELECT count(*) FROM tasks WHERE prompt = 'changed'"),
            std::vector<std::string>{"0"});
}

TEST(MergeCli, BadInputsAreRefusedWithTheirNameAndNothingWritten) {
  TempDir dir;
  cli_shard(dir.file("a.db"), 0, 2);
  data::testing::write_bytes(dir.file("junk.db"), std::string(3000, '\x07'));
  Ran r = run_command(envforge_bin() + " merge --out " + dir.file("all.db") + " " + dir.file("a.db") + " " + dir.file("junk.db"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("junk.db"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("all.db")));
  r = run_command(envforge_bin() + " merge " + dir.file("a.db"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  r = run_command(envforge_bin() + " merge --out " + dir.file("all.db"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no shard"), std::string::npos) << r.output;
}

TEST(SynthShardCli, BadShardIsAUsageError) {
  TempDir dir;
  Ran r = run_command(envforge_bin() + " synth --count 2 --shard 4/4 --out " + dir.file("x.db"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--shard"), std::string::npos) << r.output;
  r = run_command("env JOB_COMPLETION_INDEX=1 " + envforge_bin() + " synth --count 2 --out " + dir.file("x.db"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("ENVFORGE_SHARD_COUNT"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.db")));
}

TEST(SynthShardCli, ArrayTaskMakesItsItemsAndResumes) {
  TempDir dir;
  const std::string cmd = "env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 " + envforge_bin() +
                          " synth --count 5 --seed 3 --jobs 2 --quiet --out " + dir.file("s1.db");
  Ran r = run_command(cmd);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(query(dir.file("s1.db"), "SELECT shard_index, shard_count FROM runs"), std::vector<std::string>{"1|2"});
  EXPECT_EQ(query_int(dir.file("s1.db"), "SELECT count(*) FROM work_items"), 2);  // items 1 and 3
  r = run_command(cmd);  // resumes: everything is there already
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(query_int(dir.file("s1.db"), "SELECT count(*) FROM work_items"), 2);
  EXPECT_EQ(query_int(dir.file("s1.db"), "SELECT count(*) FROM runs"), 2);
  // The other shard and the merge make the unsharded job.
  r = run_command(envforge_bin() + " synth --count 5 --seed 3 --jobs 2 --quiet --shard 0/2 --out " + dir.file("s0.db"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(envforge_bin() + " synth --count 5 --seed 3 --jobs 2 --quiet --out " + dir.file("whole.db"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(envforge_bin() + " merge --quiet --out " + dir.file("all.db") + " " + dir.file("s0.db") + " " + dir.file("s1.db"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(query(dir.file("all.db"), "SELECT id, content_hash FROM tasks ORDER BY id"),
            query(dir.file("whole.db"), "SELECT id, content_hash FROM tasks ORDER BY id"));
  EXPECT_EQ(query(dir.file("all.db"), "SELECT key FROM work_items ORDER BY key"),
            query(dir.file("whole.db"), "SELECT key FROM work_items ORDER BY key"));
}

}  // namespace
}  // namespace envforge
