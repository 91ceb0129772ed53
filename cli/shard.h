// Which shard of a job this process makes: `--shard I/N`, or the scheduler's
// environment (a Slurm array task, a Kubernetes Indexed Job pod). Shard I of N
// makes the work items i with i % N == I, so N shards make exactly the items of
// the unsharded job.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace envforge::cli {

struct Shard {
  int64_t index = 0;
  int64_t count = 1;
  std::string source = "none";   // "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX" or "none"

  bool owns(uint64_t item) const { return item % static_cast<uint64_t>(count) == static_cast<uint64_t>(index); }
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// The count a Kubernetes Indexed Job passes next to JOB_COMPLETION_INDEX (which has none of its own).
inline constexpr const char* kShardCountEnv = "ENVFORGE_SHARD_COUNT";

// `flag` is the --shard value when given. Without it, a Slurm array task takes its
// place from SLURM_ARRAY_TASK_ID (less SLURM_ARRAY_TASK_MIN) and the array's size
// (SLURM_ARRAY_TASK_COUNT, else MAX - MIN + 1; the array must be contiguous); a pod of
// an Indexed Job from JOB_COMPLETION_INDEX and ENVFORGE_SHARD_COUNT. Anything
// malformed or inconsistent throws UsageError naming the flag or variable.
// `getenv` is std::getenv unless a test gives another.
Shard resolve_shard(const std::optional<std::string>& flag,
                    const std::function<const char*(const char*)>& getenv = nullptr);

}  // namespace envforge::cli
