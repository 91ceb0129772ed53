// The box's PID 1 while the payload runs: reaps everything, and ends the whole box when
// the CPU time of its processes reaches the limit (checked at ms granularity, far
// finer than RLIMIT_CPU's whole seconds).
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "sandbox/status_record.h"

namespace envforge::sandbox::launcher {

// Expects SIGCHLD blocked. Returns when the payload has ended and every other process of
// the box is killed and reaped; the record holds the payload's wait status, the CPU
// time of all reaped processes, the largest RSS, and kCpuLimit when the limit ended it.
StatusRecord reap_box(pid_t payload, std::int64_t cpu_limit_ms, int cpus);

}  // namespace envforge::sandbox::launcher
