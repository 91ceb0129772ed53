// What runs inside a freshly cloned box. It builds the request-independent part of
// the box's root file system ahead of time (a box is usually cloned before its request
// exists: the launcher keeps one ready per network mode and bind use): without binds
// the root is complete and pivoted before the request, so a launch only writes the work
// files; with binds the pivot waits for the bind sources. Then it becomes the box's PID 1:
// a reaper that starts the payload as an unprivileged user with no capabilities,
// rlimits and the seccomp filter, and enforces the CPU-time limit at ms granularity.
#pragma once
#include <linux/filter.h>

#include <string_view>
#include <vector>

#include "sandbox/launcher/seccomp_policy.h"
#include "sandbox/result.h"
#include "sandbox/wire.h"

namespace envforge::sandbox::launcher {

// Descriptor numbers inside the box process, arranged by the launcher's child before
// box_main runs.
inline constexpr int kBoxStatusFd = 3;
inline constexpr int kBoxSyncFd = 4;  // 'G' (maps and cgroups ready), then the request
inline constexpr int kBoxLauncherFd = 5;  // a pidfd of the launcher, closed once checked
inline constexpr int kBoxCpuFd = 6;       // the box cgroup's CPU counter (BoxPlan::cpu_cgroup)

// Uid/gid of the payload inside the box (mapped to an unprivileged host id).
inline constexpr unsigned kBoxUid = 1000;

// The box tmpfs is mounted with this size before the request is known; a request that
// asks for another size gets a remount.
inline constexpr std::int64_t kDefaultTmpfsMb = 64;

struct BoxPlan {
  const SeccompPrograms* seccomp = nullptr;
  bool memory_by_rlimit = true;  // no memory cgroup: limit the address space instead
  // How kBoxCpuFd counts the box's CPU time (kRlimit: there is no such descriptor).
  ControlMode cpu_cgroup = ControlMode::kRlimit;
  int cpus = 1;                  // CPUs the box may use (bounds how fast CPU time grows)
  // Keep the host's tree reachable until the request (for read-only binds, whose
  // sources are host paths); otherwise the root is pivoted before the request.
  bool host_view = false;
};

// The request frame a waiting box reads from kBoxSyncFd (after the 'G'), around the
// encoded LaunchRequest as the host sent it.
std::string box_request_frame(std::string_view body);

// Never returns. Expects stdin/stdout/stderr on 0/1/2, the status pipe on kBoxStatusFd
// the launcher's go-ahead/request pipe on kBoxSyncFd and its pidfd on kBoxLauncherFd,
// nothing else open.
[[noreturn]] void box_main(const BoxPlan& plan);

}  // namespace envforge::sandbox::launcher
