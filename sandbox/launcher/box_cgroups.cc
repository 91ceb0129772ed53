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
    std::string base = parent + "/" + name;
    if (DIR* sub = opendir(base.c_str())) {
      while (dirent* b = readdir(sub)) {
        if (std::strncmp(b->d_name, "box-", 4) == 0) remove_dir(base + "/" + b->d_name);
      }
      closedir(sub);
    }
    remove_dir(base);
  }
  closedir(d);
}

void BoxCgroups::setup(Controller& c, ControllerProbe& p, const char* name) {
  if (p.mode == ControlMode::kRlimit) return;
  remove_stale(p.dir);
  std::string base = p.dir + "/envforge-" + std::to_string(getpid());
  if (mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    p.reason = std::string("rlimits: cannot create ") + base + ": " + std::strerror(errno);
    p.mode = ControlMode::kRlimit;
    return;
  }
  if (p.mode == ControlMode::kCgroupV2) {
    std::string error;
    if (!write_file(base + "/cgroup.subtree_control", std::string("+") + name, error)) {
      p.reason = "rlimits: " + error;
      p.mode = ControlMode::kRlimit;
      remove_dir(base);
      return;
    }
  }
  c.mode = p.mode;
  c.base = base;
}

void BoxCgroups::init(bool enabled) {
  probe_ = probe_cgroups();
  if (!enabled) {
    probe_.memory = {ControlMode::kRlimit, "", "rlimits: cgroups disabled by the caller"};
    probe_.pids = {ControlMode::kRlimit, "", "rlimits: cgroups disabled by the caller"};
    return;
  }
  setup(memory_, probe_.memory, "memory");
  // With v2 both controllers share one directory; set it up once.
  if (probe_.pids.mode == ControlMode::kCgroupV2 && memory_.mode == ControlMode::kCgroupV2 &&
      probe_.pids.dir == probe_.memory.dir) {
    std::string error;
    if (write_file(memory_.base + "/cgroup.subtree_control", "+pids", error)) {
      pids_ = memory_;
      return;
    }
    probe_.pids = {ControlMode::kRlimit, "", "rlimits: " + error};
    return;
  }
  setup(pids_, probe_.pids, "pids");
}

BoxCgroups::~BoxCgroups() {
  remove_dir(memory_.base);
  if (pids_.base != memory_.base) remove_dir(pids_.base);
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
  return true;
}

bool BoxCgroups::arm(BoxCgroup& cg, const Limits& limits, CgroupMark& mark, std::string& error) {
  mark = {};
  if (!cg.memory_dir.empty()) {
    const std::int64_t mem = limits.memory_mb * 1024 * 1024;
    const bool v1 = memory_.mode == ControlMode::kCgroupV1;
    if (cg.memory_limit != mem) {
      if (!write_file(cg.memory_dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"), std::to_string(mem), error))
        return false;
      if (v1) {
        std::string ignored;  // memsw exists only with swap accounting
        write_file(cg.memory_dir + "/memory.memsw.limit_in_bytes", std::to_string(mem), ignored);
      }
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
  return true;
}

bool BoxCgroups::join(const BoxCgroup& cg, pid_t pid, std::string& error) {
  std::string p = std::to_string(pid);
  if (!cg.memory_dir.empty() && !write_file(cg.memory_dir + "/cgroup.procs", p, error)) return false;
  if (!cg.pids_dir.empty() && cg.pids_dir != cg.memory_dir &&
      !write_file(cg.pids_dir + "/cgroup.procs", p, error))
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
  return u;
}

void BoxCgroups::remove(BoxCgroup& cg) {
  if (cg.peak_fd >= 0) close(cg.peak_fd);
  cg.peak_fd = -1;
  remove_dir(cg.memory_dir);
  if (cg.pids_dir != cg.memory_dir) remove_dir(cg.pids_dir);
  cg.memory_dir.clear();
  cg.pids_dir.clear();
}

}  // namespace envforge::sandbox::launcher
