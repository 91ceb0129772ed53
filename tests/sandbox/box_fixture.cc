#include "box_fixture.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

namespace envforge::sandbox::testing {

std::string read_host_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> host_mounts() {
  std::set<std::string> out;
  std::istringstream in(read_host_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    // Drop the mount id and parent id: keep what is mounted where.
    std::istringstream ls(line);
    std::string id, parent, rest;
    ls >> id >> parent;
    std::getline(ls, rest);
    out.insert(rest);
  }
  return out;
}

int parent_of(int pid) {
  std::string stat = read_host_file("/proc/" + std::to_string(pid) + "/stat");
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream ss(stat.substr(close_paren + 2));
  char state;
  int ppid = 0;
  ss >> state >> ppid;
  return ppid;
}

std::vector<int> descendants(int ancestor) {
  std::map<int, int> parent;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = read_host_file("/proc/" + std::string(e->d_name) + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream ss(stat.substr(close_paren + 2));
    char state;
    int ppid = 0;
    ss >> state >> ppid;
    parent[pid] = ppid;
  }
  closedir(d);
  std::vector<int> out;
  for (auto [pid, pp] : parent) {
    for (int p = pp, hops = 0; p > 0 && hops < 64; p = parent.count(p) ? parent[p] : 0, ++hops) {
      if (p == ancestor) {
        out.push_back(pid);
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> box_cgroups(int launcher_pid) {
  std::vector<std::string> out;
  const std::string base = "envforge-" + std::to_string(launcher_pid);
  for (const char* root : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpuacct",
                           "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified"}) {
    std::vector<std::string> stack = {root};
    while (!stack.empty()) {
      std::string dir = stack.back();
      stack.pop_back();
      DIR* d = opendir(dir.c_str());
      if (!d) continue;
      bool ours = dir.size() >= base.size() && dir.compare(dir.size() - base.size(), base.size(), base) == 0;
      while (dirent* e = readdir(d)) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        std::string sub = dir + "/" + e->d_name;
        if (ours) out.push_back(sub);
        else stack.push_back(sub);
      }
      closedir(d);
    }
  }
  return out;
}

std::vector<std::string> box_owned_entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    struct stat st;
    std::string p = dir + "/" + e->d_name;
    if (lstat(p.c_str(), &st) == 0 && st.st_uid >= 2'000'000'000u && st.st_uid != static_cast<uid_t>(-1))
      out.push_back(p);
  }
  closedir(d);
  return out;
}

void BoxTest::SetUp() {
  SandboxOptions o;
  if (GetParam() == HostMode::kRootless) {
    if (geteuid() == 0) {
      o.run_as_uid = 65534;
      o.run_as_gid = 65534;
    }
  } else if (geteuid() != 0) {
    GTEST_SKIP() << "root mode needs root";
  }
  mounts_before_ = host_mounts();
  sandbox_ = std::make_unique<Sandbox>(o);
  if (GetParam() == HostMode::kRootless) {
    ASSERT_TRUE(sandbox_->rootless());
    ASSERT_EQ(sandbox_->limit_modes().memory, ControlMode::kRlimit);
  }
}

// One spare per network mode (2) and bind use (2).
constexpr std::size_t kMaxSpares = 4;

void BoxTest::TearDown() {
  if (!sandbox_) return;
  int launcher = sandbox_->launcher_pid();
  // Released boxes are torn down in the background, and the launcher keeps one spare
  // box per network mode and bind use (a single idle process that has run nothing).
  // So: soon, no process may sit below a box (every payload, daemon and child is gone),
  // and only spares remain. A process that is gone by the time its parent is read
  // (parent 0) was a box finishing its teardown, not a leftover.
  auto below_a_box = [launcher](int pid) {
    int parent = parent_of(pid);
    return parent != 0 && parent != launcher;
  };
  std::vector<int> left = descendants(launcher);
  for (int i = 0; i < 300; ++i) {
    left = descendants(launcher);
    bool payloads = false;
    for (int pid : left) payloads |= below_a_box(pid);
    if (!payloads && left.size() <= kMaxSpares) break;
    usleep(10'000);
  }
  std::size_t grandchildren = 0;
  for (int pid : left) grandchildren += below_a_box(pid);
  EXPECT_EQ(grandchildren, 0u) << "box processes left under the launcher";
  EXPECT_LE(left.size(), kMaxSpares) << "more than the spare boxes left under the launcher";
  EXPECT_TRUE(box_owned_entries("/tmp").empty()) << "files owned by a box in the host /tmp";
  sandbox_.reset();
  // Slot cgroups live as long as the launcher; none may outlive it.
  EXPECT_TRUE(box_cgroups(launcher).empty()) << "box cgroups left behind";
  for (int pid : left) {
    EXPECT_NE(access(("/proc/" + std::to_string(pid)).c_str(), F_OK), 0) << "box " << pid << " outlived the launcher";
  }
  EXPECT_EQ(host_mounts(), mounts_before_) << "host mount table changed";
  if (launcher > 0) {
    EXPECT_NE(access(("/proc/" + std::to_string(launcher)).c_str(), F_OK), 0) << "launcher still running";
  }
}

Spec BoxTest::attack(const std::string& mode, std::vector<std::string> args) const {
  static const std::string program = read_host_file(ENVFORGE_SANDBOX_ATTACK);
  Spec s;
  s.argv = {"/work/attack", mode};
  for (auto& a : args) s.argv.push_back(std::move(a));
  s.files.push_back({"attack", program, 0755});
  s.limits.wall_ms = 5000;
  s.limits.cpu_ms = 5000;
  s.limits.memory_mb = 128;
  s.limits.max_pids = 32;
  s.limits.tmpfs_mb = 16;
  s.limits.stdout_bytes = 64 << 10;
  s.limits.stderr_bytes = 64 << 10;
  return s;
}

Spec BoxTest::shell(const std::string& script) const {
  Spec s;
  s.argv = {"/bin/sh", "-c", script};
  s.env = {"PATH=/usr/bin:/bin"};
  s.limits.wall_ms = 5000;
  return s;
}

void BoxTest::expect_no_escape(const Result& r) const {
  EXPECT_EQ(r.stdout_data.find("ESCAPED"), std::string::npos) << r.stdout_data;
}

std::string host_mode_name(const ::testing::TestParamInfo<HostMode>& info) {
  return info.param == HostMode::kRoot ? "Root" : "Rootless";
}

}  // namespace envforge::sandbox::testing
