// Finds, per controller, how this host lets us limit a box: a delegated cgroup v2
// subtree, a writable cgroup v1 hierarchy, or only rlimits. Used by the launcher (to
// decide) and by `envforge sandbox doctor` (to explain).
#pragma once
#include <string>

#include "sandbox/result.h"

namespace envforge::sandbox {

struct ControllerProbe {
  ControlMode mode = ControlMode::kRlimit;
  std::string dir;     // the cgroup directory we live in for this controller (when a cgroup mode)
  std::string reason;  // why this mode was chosen, for humans
};

struct CgroupProbe {
  ControllerProbe memory;
  ControllerProbe pids;
  // CPU time of a whole box: cgroup v2 keeps cpu.stat in every cgroup (no delegation
  // needed), cgroup v1 needs a writable cpuacct hierarchy.
  ControllerProbe cpu;
};

// Probes for the calling process (its /proc/self/cgroup and /proc/self/mountinfo).
// `host_uid`: the uid to name in the reasons (a rootless launcher runs as uid 0 of its
// own user namespace); -1: our own.
CgroupProbe probe_cgroups(int host_uid = -1);

// Removes the cgroups a launcher made under `parent` (envforge-<pid> and its box-N),
// waiting briefly for their last processes to go. For a launcher that is dead.
void remove_launcher_cgroups(const std::string& parent, int launcher_pid);

}  // namespace envforge::sandbox
