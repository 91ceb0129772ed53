#include "sandbox/launcher/box_cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "sandbox/launcher/reaper.h"

namespace envforge::sandbox::launcher {
namespace {

bool write_file(const std::string& path, const std::string& value, std::string& error) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  ssize_t w = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (w != static_cast<ssize_t>(value.size())) {
    error = "writing '" + value + "' to " + path + ": " + std::strerror(err);
    return false;
  }
  return true;
}

std::int64_t read_number(const std::string& path) {
  std::ifstream in(path);
  std::int64_t v = -1;
  if (!(in >> v)) return -1;
  return v;
}

// The value of `key` in a "key value" per line file (memory.events, oom_control, pids.events).
std::int64_t read_keyed(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string k;
  std::int64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

// rmdir of a cgroup can fail with EBUSY for a moment after its last task exited.
void remove_dir(const std::string& dir) {
  if (dir.empty()) return;
  for (int i = 0; i < 200; ++i) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

void BoxCgroups::remove_stale(const std::string& parent) {
  // Launchers that were killed cannot clean up; their envforge-<pid> dirs are removed
  // by the next launcher when that pid no longer exists.
  DIR* d = opendir(parent.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("envforge-", 0) != 0) continue;
    int pid = std::atoi(name.c_str() + 9);
    if (pid <= 0 || (kill(pid, 0) == 0 || errno == EPERM)) continue;
    remove_launcher_cgroups(parent, pid);
  }
  closedir(d);
}

void BoxCgroups::setup(Controller& c, ControllerProbe& p, const char* enable) {
  if (p.mode == ControlMode::kRlimit) return;
  remove_stale(p.dir);
  std::string base = p.dir + "/envforge-" + std::to_string(getpid());
  if (mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    p.reason = std::string("rlimits: cannot create ") + base + ": " + std::strerror(errno);
    p.mode = ControlMode::kRlimit;
    return;
  }
  if (p.mode == ControlMode::kCgroupV2 && enable) {
    std::string error;
    if (!write_file(base + "/cgroup.subtree_control", std::string("+") + enable, error)) {
      p.reason = "rlimits: " + error;
      p.mode = ControlMode::kRlimit;
      remove_dir(base);
      return;
    }
  }
  c.mode = p.mode;
  c.base = base;
}

void BoxCgroups::init(bool enabled, int host_uid) {
  probe_ = probe_cgroups(host_uid);
  if (!enabled) {
    probe_.memory = {ControlMode::kRlimit, "", "rlimits: cgroups disabled by the caller"};
    probe_.pids = {ControlMode::kRlimit, "", "rlimits: cgroups disabled by the caller"};
    probe_.cpu = {ControlMode::kRlimit, "", "no cpuacct cgroup: cgroups disabled by the caller"};
    return;
  }
  setup(memory_, probe_.memory, "memory");
  // With v2 both controllers share one directory; set it up once.
  if (probe_.pids.mode == ControlMode::kCgroupV2 && memory_.mode == ControlMode::kCgroupV2 &&
      probe_.pids.dir == probe_.memory.dir) {
    std::string error;
    if (write_file(memory_.base + "/cgroup.subtree_control", "+pids", error)) {
      pids_ = memory_;
    } else {
      probe_.pids = {ControlMode::kRlimit, "", "rlimits: " + error};
    }
  } else {
    setup(pids_, probe_.pids, "pids");
  }
  // v2 keeps CPU time in every cgroup: the box cgroup of another controller serves.
  if (probe_.cpu.mode == ControlMode::kCgroupV2 && memory_.mode == ControlMode::kCgroupV2 &&
      probe_.cpu.dir == probe_.memory.dir) {
    cpu_ = memory_;
  } else if (probe_.cpu.mode == ControlMode::kCgroupV2 && pids_.mode == ControlMode::kCgroupV2 &&
             probe_.cpu.dir == probe_.pids.dir) {
    cpu_ = pids_;
  } else {
    setup(cpu_, probe_.cpu, nullptr);
  }
}

BoxCgroups::~BoxCgroups() {
  remove_dir(memory_.base);
  if (pids_.base != memory_.base) remove_dir(pids_.base);
  if (cpu_.base != memory_.base && cpu_.base != pids_.base) remove_dir(cpu_.base);
}

bool BoxCgroups::ensure(unsigned slot, BoxCgroup& cg, std::string& error) {
  std::string leaf = "/box-" + std::to_string(slot);
  if (memory_.mode != ControlMode::kRlimit && cg.memory_dir.empty()) {
    std::string dir = memory_.base + leaf;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      error = "cgroup " + dir + ": " + std::strerror(errno);
      return false;
    }
    cg.memory_dir = dir;
    std::string ignored;
    if (memory_.mode == ControlMode::kCgroupV1) {
      write_file(dir + "/memory.swappiness", "0", ignored);
    } else {
      write_file(dir + "/memory.swap.max", "0", ignored);
      cg.peak_fd = open((dir + "/memory.peak").c_str(), O_RDWR | O_CLOEXEC);
    }
  }
  if (pids_.mode != ControlMode::kRlimit && cg.pids_dir.empty()) {
    std::string dir = pids_.base + leaf;
    if (dir != cg.memory_dir && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      error = "cgroup " + dir + ": " + std::strerror(errno);
      return false;
    }
    cg.pids_dir = dir;
  }
  if (cpu_.mode != ControlMode::kRlimit && cg.cpu_dir.empty()) {
    std::string dir = cpu_.base + leaf;
    if (dir != cg.memory_dir && dir != cg.pids_dir && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      error = "cgroup " + dir + ": " + std::strerror(errno);
      return false;
    }
    cg.cpu_dir = dir;
    const char* counter = cpu_.mode == ControlMode::kCgroupV1 ? "/cpuacct.usage" : "/cpu.stat";
    cg.cpu_fd = open((dir + counter).c_str(), O_RDONLY | O_CLOEXEC);
    if (cg.cpu_fd < 0) {
      error = "cgroup " + dir + counter + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool BoxCgroups::arm(BoxCgroup& cg, const Limits& limits, CgroupMark& mark, std::string& error) {
  mark = {};
  if (!cg.memory_dir.empty()) {
    const std::int64_t mem = limits.memory_mb * 1024 * 1024;
    const bool v1 = memory_.mode == ControlMode::kCgroupV1;
    if (cg.memory_limit != mem) {
      // v1 refuses a memory limit above the memory+swap one: raising, that one goes
      // first; lowering, last. (memsw exists only with swap accounting.)
      std::string ignored;
      const std::string memsw = cg.memory_dir + "/memory.memsw.limit_in_bytes";
      const bool raising = cg.memory_limit >= 0 && mem > cg.memory_limit;
      if (v1 && raising) write_file(memsw, std::to_string(mem), ignored);
      if (!write_file(cg.memory_dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"), std::to_string(mem), error))
        return false;
      if (v1 && !raising) write_file(memsw, std::to_string(mem), ignored);
      cg.memory_limit = mem;
    }
    // Peak from now on (v1: the write sets it to the current usage; v2: per descriptor).
    std::string ignored;
    if (v1) {
      write_file(cg.memory_dir + "/memory.max_usage_in_bytes", "0", ignored);
    } else if (cg.peak_fd >= 0) {
      (void)!pwrite(cg.peak_fd, "reset\n", 6, 0);
    }
    mark.memory_base = std::max<std::int64_t>(0, read_number(cg.memory_dir + (v1 ? "/memory.usage_in_bytes" : "/memory.current")));
    mark.oom_kills = read_keyed(cg.memory_dir + (v1 ? "/memory.oom_control" : "/memory.events"), "oom_kill");
  }
  if (!cg.pids_dir.empty()) {
    // +1: the box's PID 1 (the reaper) lives in the cgroup too.
    const std::int64_t pids = limits.max_pids + 1;
    if (cg.pids_limit != pids) {
      if (!write_file(cg.pids_dir + "/pids.max", std::to_string(pids), error)) return false;
      cg.pids_limit = pids;
    }
    mark.pids_denied = read_keyed(cg.pids_dir + "/pids.events", "max");
  }
  if (cg.cpu_fd >= 0) mark.cpu_us = read_cgroup_cpu_us(cg.cpu_fd, cpu_.mode == ControlMode::kCgroupV2);
  return true;
}

bool BoxCgroups::join(const BoxCgroup& cg, pid_t pid, std::string& error) {
  std::string p = std::to_string(pid);
  if (!cg.memory_dir.empty() && !write_file(cg.memory_dir + "/cgroup.procs", p, error)) return false;
  if (!cg.pids_dir.empty() && cg.pids_dir != cg.memory_dir &&
      !write_file(cg.pids_dir + "/cgroup.procs", p, error))
    return false;
  if (!cg.cpu_dir.empty() && cg.cpu_dir != cg.memory_dir && cg.cpu_dir != cg.pids_dir &&
      !write_file(cg.cpu_dir + "/cgroup.procs", p, error))
    return false;
  return true;
}

CgroupUsage BoxCgroups::usage(const BoxCgroup& cg, const CgroupMark& mark) const {
  CgroupUsage u;
  if (!cg.memory_dir.empty()) {
    std::int64_t peak = -1;
    if (memory_.mode == ControlMode::kCgroupV1) {
      peak = read_number(cg.memory_dir + "/memory.max_usage_in_bytes");
      u.oom_kills = read_keyed(cg.memory_dir + "/memory.oom_control", "oom_kill") - mark.oom_kills;
    } else {
      if (cg.peak_fd >= 0) {
        char buf[32] = {};
        if (pread(cg.peak_fd, buf, sizeof buf - 1, 0) > 0) peak = std::atoll(buf);
      }
      u.oom_kills = read_keyed(cg.memory_dir + "/memory.events", "oom_kill") - mark.oom_kills;
    }
    // What the run added to the slot (page cache charged by earlier boxes is not the run's).
    if (peak >= 0) u.peak_kb = std::max<std::int64_t>(0, peak - mark.memory_base) / 1024;
  }
  if (!cg.pids_dir.empty()) u.pids_denied = read_keyed(cg.pids_dir + "/pids.events", "max") - mark.pids_denied;
  if (cg.cpu_fd >= 0) {
    const std::int64_t now = read_cgroup_cpu_us(cg.cpu_fd, cpu_.mode == ControlMode::kCgroupV2);
    if (now >= 0 && mark.cpu_us >= 0) u.cpu_us = std::max<std::int64_t>(0, now - mark.cpu_us);
  }
  return u;
}

void BoxCgroups::remove(BoxCgroup& cg) {
  if (cg.peak_fd >= 0) close(cg.peak_fd);
  cg.peak_fd = -1;
  remove_dir(cg.memory_dir);
  if (cg.pids_dir != cg.memory_dir) remove_dir(cg.pids_dir);
  if (cg.cpu_fd >= 0) close(cg.cpu_fd);
  cg.cpu_fd = -1;
  if (cg.cpu_dir != cg.memory_dir && cg.cpu_dir != cg.pids_dir) remove_dir(cg.cpu_dir);
  cg.memory_dir.clear();
  cg.pids_dir.clear();
  cg.cpu_dir.clear();
}

}  // namespace envforge::sandbox::launcher
