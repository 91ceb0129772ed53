// The record the box's PID 1 writes to the host when the payload has ended (or the box
// could not be built). One write of less than PIPE_BUF bytes, so it arrives whole.
#pragma once
#include <cstdint>

namespace envforge::sandbox {

enum class BoxEnd : std::uint32_t {
  kExited = 1,      // payload waited for; `wait_status` is valid
  kSetupError = 2,  // the box could not be built; `message` says why
  kExecError = 3,   // execve of argv[0] failed; `error` is the errno
};

struct StatusRecord {
  static constexpr std::uint32_t kMagic = 0x45465342;  // "EFSB"
  std::uint32_t magic = kMagic;
  BoxEnd kind = BoxEnd::kExited;
  std::int32_t wait_status = 0;
  std::int32_t error = 0;
  static constexpr std::uint32_t kCpuLimit = 1;     // the reaper ended the box at the CPU limit
  static constexpr std::uint32_t kMemoryLimit = 2;  // ... at the memory limit (no memory cgroup)
  std::uint32_t flags = 0;
  std::uint32_t reserved = 0;
  std::int64_t utime_us = 0;  // all processes the box reaped
  std::int64_t stime_us = 0;
  std::int64_t maxrss_kb = 0; // largest single process
  std::int64_t box_cpu_us = 0;     // every process of the box (cgroup, or counted one by one)
  std::int64_t box_memory_kb = 0;  // with kMemoryLimit: the total the reaper measured
  char message[200] = {};
};
static_assert(sizeof(StatusRecord) < 512, "must fit one atomic pipe write");

}  // namespace envforge::sandbox
