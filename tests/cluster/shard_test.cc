// Which shard a synth process makes, from --shard or the scheduler's environment.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cli/job_config.h"
#include "cli/shard.h"

namespace envforge::cli {
namespace {

using Env = std::map<std::string, std::string>;

Shard resolve(const std::optional<std::string>& flag, const Env& env) {
  return resolve_shard(flag, [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::optional<std::string>& flag, const Env& env) {
  try {
    resolve(flag, env);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Shard, NoneByDefault) {
  Shard s = resolve(std::nullopt, {});
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(s.source, "none");
}

TEST(Shard, FlagWinsOverTheEnvironment) {
  Shard s = resolve("2/5", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  EXPECT_EQ(s.text(), "2/5");
  EXPECT_EQ(s.source, "--shard");
  EXPECT_EQ(resolve("0/1", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}).count, 1);
}

TEST(Shard, MalformedFlagsAreRefusedByName) {
  for (const char* bad : {"", "3", "a/4", "1/", "/4", "-1/4", "1/-4", "4/4", "9/4", "0/0", "1/4/2", " 1/4",
                          "99999999999999/1"}) {
    std::string e = error_of(std::string(bad), {});
    EXPECT_NE(e.find("--shard"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_NE(error_of("4/4", {}).find("numbered 0..3"), std::string::npos);
}

TEST(Shard, SlurmArrayTask) {
  Shard s = resolve(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"},
                                   {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_MAX", "3"}});
  EXPECT_EQ(s.text(), "3/4");
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
  // An array numbered from 1 (--array=1-8), with only MIN and MAX (older Slurm).
  EXPECT_EQ(resolve(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                                   {"SLURM_ARRAY_TASK_MAX", "8"}}).text(), "0/8");
}

TEST(Shard, SlurmArraysThatCannotShardAreRefused) {
  EXPECT_NE(error_of(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "2"}}).find("size is unknown"), std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_STEP", "2"},
                                    {"SLURM_ARRAY_TASK_COUNT", "4"}}).find("step"), std::string::npos);
  // --array=0,5,9: three tasks between 0 and 9.
  EXPECT_NE(error_of(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "3"},
                                    {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_MAX", "9"}})
                .find("not contiguous"), std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "3"}})
                .find("SLURM_ARRAY_TASK_ID"), std::string::npos);
}

TEST(Shard, IndexedJobPod) {
  Shard s = resolve(std::nullopt, {{"JOB_COMPLETION_INDEX", "5"}, {kShardCountEnv, "16"}});
  EXPECT_EQ(s.text(), "5/16");
  EXPECT_EQ(s.source, "JOB_COMPLETION_INDEX");
  EXPECT_NE(error_of(std::nullopt, {{"JOB_COMPLETION_INDEX", "5"}}).find(kShardCountEnv), std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {{"JOB_COMPLETION_INDEX", "16"}, {kShardCountEnv, "16"}}).find("does not exist"),
            std::string::npos);
}

TEST(Shard, ShardsPartitionTheItemsExactly) {
  for (int64_t n : {1, 2, 3, 4, 7, 16}) {
    std::multiset<uint64_t> made;
    for (int64_t i = 0; i < n; ++i)
      for (uint64_t item = 0; item < 100; ++item)
        if (Shard{i, n, "--shard"}.owns(item)) made.insert(item);
    EXPECT_EQ(made.size(), 100u) << n;
    EXPECT_EQ(std::set<uint64_t>(made.begin(), made.end()).size(), 100u) << n;
  }
}

}  // namespace
}  // namespace envforge::cli
