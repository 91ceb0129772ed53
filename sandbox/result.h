// What a box run produced: verdict, exit status, usage, output, collected files.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace envforge::sandbox {

enum class Verdict {
  kOk,             // exited with status 0
  kRuntimeError,   // non-zero exit or killed by a signal not caused by a limit
  kTimeLimit,      // wall or CPU time limit
  kMemoryLimit,    // memory limit (cgroup OOM kill, or inferred under rlimits)
  kOutputLimit,    // stdout/stderr cap or file size limit exceeded
  kKilledByPolicy, // a forbidden system call (seccomp)
  kSandboxError,   // the box could not be built or the spec was invalid
};

std::string_view verdict_name(Verdict v);

// How one resource is limited on this host.
enum class ControlMode { kCgroupV2, kCgroupV1, kRlimit };
std::string_view control_mode_name(ControlMode m);

// The mechanism that decided a verdict, so that a reader can tell a measured limit
// from an inferred one (e.g. a memory verdict from a cgroup OOM kill, or from the peak
// RSS of a run that failed under an address-space rlimit).
enum class DecidedBy {
  kExitStatus,       // the payload's own exit status or signal
  kWallClock,        // the host's wall-clock deadline
  kOutputCap,        // the host's stdout/stderr caps
  kReaperCpuClock,   // the box's reaper summing the CPU clocks of its processes
  kCpuRlimit,        // RLIMIT_CPU (SIGXCPU, or SIGKILL past the hard limit)
  kCpuUsage,         // the CPU time reported after the run exceeded the limit
  kSeccomp,          // the seccomp filter killed a forbidden system call (SIGSYS)
  kFileSizeRlimit,   // RLIMIT_FSIZE (SIGXFSZ)
  kCgroupOomKill,    // the memory cgroup's OOM killer
  kAddressSpaceRlimit,  // inferred: failed run whose peak RSS came close to the RLIMIT_AS limit
  kReaperMemorySum,  // the box's reaper summing its processes' memory and its tmpfs (no memory cgroup)
  kExecFailure,      // execve of the payload failed (missing, not executable, bad interpreter line)
  kAllocationRefused,  // inferred: a failed run that reported a refused allocation
  kSandbox,          // the sandbox itself (invalid spec, box set-up failure)
};
std::string_view decided_by_name(DecidedBy d);

struct LimitModes {
  ControlMode memory = ControlMode::kRlimit;
  ControlMode pids = ControlMode::kRlimit;
};

struct Result {
  Verdict verdict = Verdict::kSandboxError;
  int exit_code = -1;  // when the payload exited normally
  int signal = 0;      // when it was killed by a signal
  std::int64_t cpu_ms = 0;
  std::int64_t wall_ms = 0;
  std::int64_t peak_kb = 0;  // peak memory of the box (cgroup) or largest process RSS
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::map<std::string, std::string> files;  // collected files that existed and were readable
  std::string message;  // why the verdict is what it is (limit hit, setup failure, ...)
  DecidedBy decided_by = DecidedBy::kSandbox;
  LimitModes limits_mode;

  bool ok() const { return verdict == Verdict::kOk; }
  // Output bytes that are not UTF-8 are replaced (U+FFFD) so the JSON is always valid.
  nlohmann::json to_json() const;
};

}  // namespace envforge::sandbox
