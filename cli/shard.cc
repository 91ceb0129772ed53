#include "cli/shard.h"

#include <cstdlib>

#include "cli/job_config.h"

namespace envforge::cli {

namespace {

// A non-negative decimal integer, all of `text`; what names it in the error.
int64_t shard_number(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError(what + ": expected a non-negative integer, got '" + text + "'");
  return std::stoll(text);
}

Shard checked(Shard s, const std::string& what) {
  if (s.count < 1) throw UsageError(what + ": the shard count must be at least 1, got " + std::to_string(s.count));
  if (s.index >= s.count)
    throw UsageError(what + ": shard " + std::to_string(s.index) + " does not exist in " +
                     std::to_string(s.count) + " shard(s) (they are numbered 0.." +
                     std::to_string(s.count - 1) + ")");
  return s;
}

}  // namespace

Shard resolve_shard(const std::optional<std::string>& flag,
                    const std::function<const char*(const char*)>& getenv_fn) {
  auto env = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  if (flag) {
    size_t slash = flag->find('/');
    if (slash == std::string::npos) throw UsageError("--shard: expected I/N (e.g. 0/4), got '" + *flag + "'");
    Shard s{shard_number(flag->substr(0, slash), "--shard " + *flag),
            shard_number(flag->substr(slash + 1), "--shard " + *flag), "--shard"};
    return checked(s, "--shard " + *flag);
  }
  if (auto id = env("SLURM_ARRAY_TASK_ID")) {
    const std::string what = "Slurm array task (SLURM_ARRAY_TASK_ID=" + *id + ")";
    int64_t task = shard_number(*id, "SLURM_ARRAY_TASK_ID");
    auto min = env("SLURM_ARRAY_TASK_MIN"), max = env("SLURM_ARRAY_TASK_MAX");
    auto count = env("SLURM_ARRAY_TASK_COUNT"), step = env("SLURM_ARRAY_TASK_STEP");
    int64_t first = min ? shard_number(*min, "SLURM_ARRAY_TASK_MIN") : 0;
    if (step && shard_number(*step, "SLURM_ARRAY_TASK_STEP") != 1)
      throw UsageError(what + ": the array has a step of " + *step +
                       "; shards need a contiguous array (--array=0-N) or an explicit --shard I/N");
    std::optional<int64_t> span;
    if (max) span = shard_number(*max, "SLURM_ARRAY_TASK_MAX") - first + 1;
    int64_t n = 0;
    if (count) {
      n = shard_number(*count, "SLURM_ARRAY_TASK_COUNT");
      if (span && *span != n)
        throw UsageError(what + ": the array is not contiguous (" + *count + " tasks between " +
                         std::to_string(first) + " and " + *max +
                         "); use --array=0-N or an explicit --shard I/N");
    } else if (span) {
      n = *span;
    } else {
      throw UsageError(what + ": the array's size is unknown (neither SLURM_ARRAY_TASK_COUNT nor "
                       "SLURM_ARRAY_TASK_MAX is set); give --shard I/N");
    }
    if (task < first) throw UsageError(what + ": below SLURM_ARRAY_TASK_MIN=" + std::to_string(first));
    return checked({task - first, n, "SLURM_ARRAY_TASK_ID"}, what);
  }
  if (auto index = env("JOB_COMPLETION_INDEX")) {
    const std::string what = "Indexed Job pod (JOB_COMPLETION_INDEX=" + *index + ")";
    auto count = env(kShardCountEnv);
    if (!count)
      throw UsageError(what + ": the shard count is unknown; set " + std::string(kShardCountEnv) +
                       " to the Job's completions, or give --shard I/N");
    return checked({shard_number(*index, "JOB_COMPLETION_INDEX"),
                    shard_number(*count, kShardCountEnv), "JOB_COMPLETION_INDEX"}, what);
  }
  return {};
}

}  // namespace envforge::cli
