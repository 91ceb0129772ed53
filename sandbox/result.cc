#include "sandbox/result.h"

namespace envforge::sandbox {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kRuntimeError: return "runtime_error";
    case Verdict::kTimeLimit: return "time_limit";
    case Verdict::kMemoryLimit: return "memory_limit";
    case Verdict::kOutputLimit: return "output_limit";
    case Verdict::kKilledByPolicy: return "killed_by_policy";
    case Verdict::kSandboxError: return "sandbox_error";
  }
  return "unknown";
}

std::string_view control_mode_name(ControlMode m) {
  switch (m) {
    case ControlMode::kCgroupV2: return "cgroup_v2";
    case ControlMode::kCgroupV1: return "cgroup_v1";
    case ControlMode::kRlimit: return "rlimit";
  }
  return "unknown";
}

std::string_view decided_by_name(DecidedBy d) {
  switch (d) {
    case DecidedBy::kExitStatus: return "exit_status";
    case DecidedBy::kWallClock: return "wall_clock";
    case DecidedBy::kOutputCap: return "output_cap";
    case DecidedBy::kReaperCpuClock: return "reaper_cpu_clock";
    case DecidedBy::kCpuRlimit: return "rlimit_cpu";
    case DecidedBy::kCpuUsage: return "cpu_usage";
    case DecidedBy::kSeccomp: return "seccomp";
    case DecidedBy::kFileSizeRlimit: return "rlimit_fsize";
    case DecidedBy::kCgroupOomKill: return "cgroup_oom_kill";
    case DecidedBy::kAddressSpaceRlimit: return "rlimit_as_inferred_from_peak_rss";
    case DecidedBy::kReaperMemorySum: return "reaper_memory_sum";
    case DecidedBy::kExecFailure: return "exec_failure";
    case DecidedBy::kAllocationRefused: return "allocation_refused_inferred_from_stderr";
    case DecidedBy::kSandbox: return "sandbox";
  }
  return "unknown";
}

namespace {

// Bytes -> valid UTF-8 (invalid sequences become U+FFFD), so the JSON dumps safely.
std::string utf8_clean(const std::string& s) {
  nlohmann::json j = s;
  std::string dumped = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(dumped).get<std::string>();
}

}  // namespace

nlohmann::json Result::to_json() const {
  nlohmann::json j;
  j["verdict"] = verdict_name(verdict);
  j["exit_code"] = exit_code;
  j["signal"] = signal;
  j["cpu_ms"] = cpu_ms;
  j["wall_ms"] = wall_ms;
  j["peak_kb"] = peak_kb;
  j["stdout"] = utf8_clean(stdout_data);
  j["stderr"] = utf8_clean(stderr_data);
  j["stdout_truncated"] = stdout_truncated;
  j["stderr_truncated"] = stderr_truncated;
  j["message"] = utf8_clean(message);
  j["decided_by"] = decided_by_name(decided_by);
  j["limits_mode"] = {{"memory", control_mode_name(limits_mode.memory)},
                      {"pids", control_mode_name(limits_mode.pids)}};
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, bytes] : this->files) files[utf8_clean(name)] = utf8_clean(bytes);
  j["files"] = files;
  return j;
}

}  // namespace envforge::sandbox
