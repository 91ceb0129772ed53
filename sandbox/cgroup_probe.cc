#include "sandbox/cgroup_probe.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

namespace envforge::sandbox {
namespace {

struct CgroupMount {
  std::string fstype;      // "cgroup" or "cgroup2"
  std::string root;        // the mount's root inside the hierarchy
  std::string mountpoint;
  std::string superopts;   // for v1: the controllers
};

std::vector<CgroupMount> cgroup_mounts() {
  std::vector<CgroupMount> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string id, parent, devno, root, mnt, opts, tok;
    ss >> id >> parent >> devno >> root >> mnt >> opts;
    while (ss >> tok && tok != "-") {
    }
    std::string fstype, source, superopts;
    ss >> fstype >> source >> superopts;
    if (fstype == "cgroup" || fstype == "cgroup2") out.push_back({fstype, root, mnt, superopts});
  }
  return out;
}

bool has_word(std::string_view list, std::string_view word, char sep) {
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(sep, start);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(start, end - start) == word) return true;
    start = end + 1;
  }
  return false;
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// Our path in the hierarchy whose /proc/self/cgroup controller list matches `pred`.
template <class Pred>
std::string self_path(Pred pred) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    if (pred(std::string_view(line).substr(c1 + 1, c2 - c1 - 1))) return line.substr(c2 + 1);
  }
  return {};
}

std::string join_dir(const CgroupMount& m, std::string path) {
  if (m.root != "/" && path.rfind(m.root, 0) == 0) path = path.substr(m.root.size());
  if (path.empty() || path == "/") return m.mountpoint;
  return m.mountpoint + path;
}

ControllerProbe probe_one(const std::vector<CgroupMount>& mounts, const std::string& name, int uid) {
  ControllerProbe p;
  std::string why;
  for (const auto& m : mounts) {
    if (m.fstype != "cgroup2") continue;
    std::string dir = join_dir(m, self_path([](std::string_view c) { return c.empty(); }));
    if (!has_word(read_line(dir + "/cgroup.subtree_control"), name, ' ')) {
      why += "cgroup v2 at " + m.mountpoint + " does not delegate '" + name + "' to " + dir + "; ";
      continue;
    }
    if (access(dir.c_str(), W_OK) != 0) {
      why += "cgroup v2 dir " + dir + " is not writable; ";
      continue;
    }
    p.mode = ControlMode::kCgroupV2;
    p.dir = dir;
    p.reason = "cgroup v2: '" + name + "' delegated to " + dir;
    return p;
  }
  for (const auto& m : mounts) {
    if (m.fstype != "cgroup" || !has_word(m.superopts, name, ',')) continue;
    std::string dir = join_dir(m, self_path([&](std::string_view c) { return has_word(c, name, ','); }));
    if (access(dir.c_str(), W_OK) != 0) {
      why += "cgroup v1 '" + name + "' dir " + dir + " is not writable by uid " + std::to_string(uid) + "; ";
      continue;
    }
    p.mode = ControlMode::kCgroupV1;
    p.dir = dir;
    p.reason = "cgroup v1: writable '" + name + "' hierarchy at " + dir;
    return p;
  }
  if (why.empty()) why = "no cgroup hierarchy with the '" + name + "' controller is mounted; ";
  p.reason = "rlimits: " + why.substr(0, why.size() - 2);
  return p;
}

ControllerProbe probe_cpu(const std::vector<CgroupMount>& mounts, int uid) {
  ControllerProbe v1 = probe_one(mounts, "cpuacct", uid);
  if (v1.mode == ControlMode::kCgroupV1) {
    v1.reason = "cgroup v1: cpuacct.usage of the box's cgroup under " + v1.dir;
    return v1;
  }
  std::string why = v1.reason.substr(std::string("rlimits: ").size());
  for (const auto& m : mounts) {
    if (m.fstype != "cgroup2") continue;
    std::string dir = join_dir(m, self_path([](std::string_view c) { return c.empty(); }));
    if (access(dir.c_str(), W_OK) != 0) {
      why += "; cgroup v2 dir " + dir + " is not writable";
      continue;
    }
    ControllerProbe p;
    p.mode = ControlMode::kCgroupV2;
    p.dir = dir;
    p.reason = "cgroup v2: cpu.stat of the box's cgroup under " + dir;
    return p;
  }
  ControllerProbe p;
  p.reason = "no cpuacct cgroup: " + why;
  return p;
}

// rmdir of a cgroup fails with EBUSY until its last task is gone (a killed box takes a
// moment to exit).
void remove_cgroup_dir(const std::string& dir) {
  for (int i = 0; i < 400; ++i) {
    if (rmdir(dir.c_str()) == 0 || errno != EBUSY) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

void remove_launcher_cgroups(const std::string& parent, int launcher_pid) {
  if (parent.empty() || launcher_pid <= 0) return;
  const std::string base = parent + "/envforge-" + std::to_string(launcher_pid);
  if (DIR* d = opendir(base.c_str())) {
    while (dirent* e = readdir(d)) {
      if (std::strncmp(e->d_name, "box-", 4) == 0) remove_cgroup_dir(base + "/" + e->d_name);
    }
    closedir(d);
  }
  remove_cgroup_dir(base);
}

CgroupProbe probe_cgroups(int host_uid) {
  const int uid = host_uid >= 0 ? host_uid : static_cast<int>(geteuid());
  auto mounts = cgroup_mounts();
  CgroupProbe probe;
  probe.memory = probe_one(mounts, "memory", uid);
  probe.pids = probe_one(mounts, "pids", uid);
  probe.cpu = probe_cpu(mounts, uid);
  return probe;
}

}  // namespace envforge::sandbox
