// The box's PID 1 while the payload runs: reaps everything, and ends the whole box when
// the CPU time of its processes reaches the limit (checked at ms granularity, far
// finer than RLIMIT_CPU's whole seconds), or, without a memory cgroup, when the memory
// of all its processes and its tmpfs together exceed the memory limit.
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "sandbox/status_record.h"

namespace envforge::sandbox::launcher {

struct ReapPlan {
  pid_t payload = 0;
  std::int64_t cpu_limit_ms = 0;
  int cpus = 1;  // bounds how fast CPU time can grow
  // The box's cgroup CPU counter (cpuacct.usage, or cpu.stat in cgroup v2), read from
  // `cpu_base_us` on; -1: none, the processes are counted one by one instead.
  int cpu_cgroup_fd = -1;
  bool cpu_cgroup_v2 = false;
  std::int64_t cpu_base_us = 0;
  // Without a memory cgroup: the box's total (every process's resident anonymous and
  // shared memory, plus what its tmpfs holds) is kept under this; 0: a cgroup does it.
  std::int64_t memory_limit_kb = 0;
  const char* tmpfs_dir = "/tmp";
};

// Expects SIGCHLD blocked. Returns when the payload has ended and every other process of
// the box is killed and reaped; the record holds the payload's wait status, the CPU
// time of the box, the largest RSS, and kCpuLimit / kMemoryLimit when a limit ended it.
StatusRecord reap_box(const ReapPlan& plan);

// The cgroup's CPU time in µs from its counter file (v1 cpuacct.usage in ns, v2 cpu.stat's
// usage_usec); -1 when unreadable.
std::int64_t read_cgroup_cpu_us(int fd, bool v2);

}  // namespace envforge::sandbox::launcher
