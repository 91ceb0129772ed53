// Per-slot cgroups: memory and pids limits where the host delegates them (v2 or v1,
// decided per controller). A slot's cgroups are made once and reused by every box of
// that slot (creating and removing a cgroup per box costs more than the box's whole
// set-up); usage is read as the difference from marks taken when a box starts.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sandbox/cgroup_probe.h"
#include "sandbox/spec.h"

namespace envforge::sandbox::launcher {

struct BoxCgroup {
  std::string memory_dir;  // empty: not limited through a cgroup
  std::string pids_dir;
  std::string cpu_dir;
  int cpu_fd = -1;                  // the CPU counter (cpuacct.usage, v2 cpu.stat), read by the box's reaper
  int peak_fd = -1;                 // v2 memory.peak, reset per box through this descriptor
  std::int64_t memory_limit = -1;   // what is written now (skipped when unchanged)
  std::int64_t pids_limit = -1;
};

// Counters at the start of a box: usage is what changed since.
struct CgroupMark {
  std::int64_t memory_base = 0;
  std::int64_t oom_kills = 0;
  std::int64_t pids_denied = 0;
  std::int64_t cpu_us = 0;
};

struct CgroupUsage {
  std::int64_t peak_kb = -1;
  std::int64_t oom_kills = 0;
  std::int64_t pids_denied = 0;
  std::int64_t cpu_us = -1;
};

class BoxCgroups {
 public:
  // Creates envforge-<pid> under the cgroups we live in; a controller whose base cannot
  // be created falls back to rlimits (with the reason kept for the doctor).
  void init(bool enabled, int host_uid);
  ~BoxCgroups();

  ControlMode memory_mode() const { return memory_.mode; }
  ControlMode pids_mode() const { return pids_.mode; }
  ControlMode cpu_mode() const { return cpu_.mode; }
  const CgroupProbe& probe() const { return probe_; }

  // Creates the slot's cgroups when they do not exist yet. On failure returns false with `error`.
  bool ensure(unsigned slot, BoxCgroup& cg, std::string& error);
  // Moves `pid` into the slot's cgroups (before it runs any payload code).
  bool join(const BoxCgroup& cg, pid_t pid, std::string& error);
  // Sets a box's limits and takes the marks its usage is measured from.
  bool arm(BoxCgroup& cg, const Limits& limits, CgroupMark& mark, std::string& error);
  CgroupUsage usage(const BoxCgroup& cg, const CgroupMark& mark) const;
  void remove(BoxCgroup& cg);

 private:
  struct Controller {
    ControlMode mode = ControlMode::kRlimit;
    std::string base;  // envforge-<launcher pid>
  };
  // `enable`: the v2 controller to enable for the box cgroups (none for CPU time,
  // which v2 keeps in every cgroup).
  void setup(Controller& c, ControllerProbe& p, const char* enable);
  void remove_stale(const std::string& parent);
  CgroupProbe probe_;
  Controller memory_, pids_, cpu_;
};

}  // namespace envforge::sandbox::launcher
