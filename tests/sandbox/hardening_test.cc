// Limits a hostile payload must not slip past, and ends a box must not outlive: CPU
// burnt by children, memory without a cgroup, a launcher or host killed mid-run,
// channels to the host behind read-only binds, payloads that cannot be executed.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "box_fixture.h"

namespace envforge::sandbox::testing {
namespace {

namespace fs = std::filesystem;

class HardeningTest : public BoxTest {};

// Waits up to `ms` for `pred`.
template <class Pred>
bool eventually(Pred pred, int ms = 10'000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    usleep(10'000);
  }
  return pred();
}

bool pid_alive(int pid) {
  // A zombie has ended: only its parent's wait is missing.
  std::string stat = read_host_file("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] != 'Z';
}

// Descendants of `ancestor` once a payload runs in one of its boxes, `depth` levels
// below it (launcher -> box PID 1 -> payload: 2 below the launcher, 3 below the host).
std::vector<int> wait_for_payload(int ancestor, int depth) {
  std::vector<int> procs;
  eventually([&] {
    procs = descendants(ancestor);
    for (int pid : procs) {
      int p = pid, hops = 0;
      while (p > 0 && p != ancestor && hops < 8) p = parent_of(p), ++hops;
      if (p == ancestor && hops >= depth) return true;
    }
    return false;
  });
  return procs;
}

TEST_P(HardeningTest, CpuBurntByChildrenThatAreGoneCountsTowardsTheLimit) {
  for (const char* mode : {"cpu_children_reaped", "cpu_children_autoreap"}) {
    Spec s = attack(mode);
    s.limits.cpu_ms = 1000;
    s.limits.wall_ms = 30'000;
    Result r = run(s);
    EXPECT_EQ(r.verdict, Verdict::kTimeLimit) << mode << ": " << r.message;
    EXPECT_EQ(r.decided_by, DecidedBy::kReaperCpuClock) << mode << ": " << r.message;
    EXPECT_GE(r.cpu_ms, 1000) << mode;
    EXPECT_LT(r.wall_ms, 25'000) << mode;
  }
}

TEST_P(HardeningTest, MemoryOfAllProcessesTogetherIsBounded) {
  Spec s = attack("memory_children", {"4", "40"});
  s.limits.memory_mb = 70;
  s.limits.wall_ms = 20'000;
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit) << r.message << " " << r.stdout_data;
  EXPECT_EQ(r.decided_by, r.limits_mode.memory == ControlMode::kRlimit ? DecidedBy::kReaperMemorySum
                                                                        : DecidedBy::kCgroupOomKill)
      << r.message;
}

TEST_P(HardeningTest, TmpfsCountsWithinTheMemoryLimit) {
  Spec s = attack("fill_tmpfs", {"/tmp"});
  s.limits.memory_mb = 64;
  s.limits.tmpfs_mb = 512;
  s.limits.file_size_mb = 512;
  s.limits.wall_ms = 20'000;
  Result r = run(s);
  if (r.verdict == Verdict::kMemoryLimit) return;
  // Or the tmpfs ran full first, within the memory limit.
  EXPECT_EQ(r.exit_code, 6) << r.message << " " << r.stdout_data;
  unsigned long long bytes = 0;
  ASSERT_EQ(std::sscanf(r.stdout_data.c_str(), "stopped after %llu bytes", &bytes), 1) << r.stdout_data;
  EXPECT_LE(bytes, 64ull << 20);
}

// Boxes reuse their slot's cgroups: a limit raised after a lower one must be taken
// (cgroup v1 refuses a memory limit above the memory+swap one, set with the lower).
TEST_P(HardeningTest, MemoryLimitsMayRiseAndFallBetweenRuns) {
  for (std::int64_t mb : {64, 512, 64, 1024}) {
    Spec s = shell("true");
    s.limits.memory_mb = mb;
    Result r = run(s);
    EXPECT_EQ(r.verdict, Verdict::kOk) << mb << " MiB: " << r.message;
  }
}

TEST_P(HardeningTest, KillingTheLauncherEndsItsBoxesAtOnce) {
  const int launcher = sandbox_->launcher_pid();
  Result r;
  std::thread runner([&] {
    Spec s = attack("sleep_forever");
    s.limits.wall_ms = 60'000;
    r = run(s);
  });
  std::vector<int> procs = wait_for_payload(launcher, 2);
  const bool started = procs.size() >= 2;
  EXPECT_EQ(kill(launcher, SIGKILL), 0);
  runner.join();
  ASSERT_TRUE(started) << "no payload ran";
  EXPECT_EQ(r.verdict, Verdict::kSandboxError) << r.message;
  EXPECT_LT(r.wall_ms, 20'000) << "the host waited for the wall limit";
  for (int pid : procs) EXPECT_TRUE(eventually([&] { return !pid_alive(pid); }, 5000)) << "box process " << pid << " outlived the launcher";
  EXPECT_TRUE(box_cgroups(launcher).empty()) << "cgroups of the killed launcher left behind";
}

TEST_P(HardeningTest, KillingTheHostEndsEveryBoxItStarted) {
  SandboxOptions o;
  if (GetParam() == HostMode::kRootless) o.run_as_uid = o.run_as_gid = 65534;
  const pid_t host = fork();
  ASSERT_GE(host, 0);
  if (host == 0) {
    Sandbox sb(o);
    Spec s = attack("sleep_forever");
    s.limits.wall_ms = 60'000;
    sb.run(s);
    _exit(0);
  }
  std::vector<int> procs = wait_for_payload(host, 3);
  ASSERT_GE(procs.size(), 3u) << "launcher, box and payload";
  int launcher = 0;
  for (int pid : procs) if (parent_of(pid) == host) launcher = pid;
  ASSERT_EQ(kill(host, SIGKILL), 0);
  waitpid(host, nullptr, 0);
  for (int pid : procs) EXPECT_TRUE(eventually([&] { return !pid_alive(pid); }, 5000)) << "process " << pid << " outlived the host";
  EXPECT_TRUE(eventually([&] { return box_cgroups(launcher).empty(); }, 5000)) << "cgroups left behind";
}

// A host directory with a listening Unix socket and a FIFO, both open to everyone.
struct HostChannels {
  HostChannels() {
    char tmpl[] = "/tmp/envforge_channels_XXXXXX";
    dir = mkdtemp(tmpl);
    chmod(dir.c_str(), 0755);
    fs::create_directories(dir + "/sub");
    chmod((dir + "/sub").c_str(), 0755);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s/sub/host.sock", dir.c_str());
    bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    chmod(a.sun_path, 0777);
    listen(listener, 4);
    mkfifo((dir + "/host.fifo").c_str(), 0666);
    chmod((dir + "/host.fifo").c_str(), 0666);
    fifo = open((dir + "/host.fifo").c_str(), O_RDONLY | O_NONBLOCK);
    FILE* f = std::fopen((dir + "/data.txt").c_str(), "w");
    std::fputs("plain data", f);
    std::fclose(f);
    chmod((dir + "/data.txt").c_str(), 0644);
  }
  ~HostChannels() {
    close(listener);
    close(fifo);
    fs::remove_all(dir);
  }
  bool touched() const {
    int c = accept(listener, nullptr, nullptr);
    if (c >= 0) close(c);
    char buf[16];
    return c >= 0 || read(fifo, buf, sizeof buf) > 0;
  }
  std::string dir;
  int listener = -1, fifo = -1;
};

TEST_P(HardeningTest, ReadOnlyBindsGiveNoChannelThroughSocketsOrFifos) {
  HostChannels host;
  for (bool socket_case : {true, false}) {
    Spec s = socket_case ? attack("unix_connect", {"/data/sub/host.sock"}) : attack("fifo_write", {"/data/host.fifo"});
    s.ro_binds.push_back({host.dir, "/data"});
    Result r = run(s);
    EXPECT_EQ(r.verdict, Verdict::kOk) << r.message;
    expect_no_escape(r);
    EXPECT_FALSE(host.touched()) << (socket_case ? "socket" : "FIFO");
  }
  // The rest of the bind is there as before.
  Spec cat = shell("cat /data/data.txt");
  cat.ro_binds.push_back({host.dir, "/data"});
  Result r = run(cat);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.message;
  EXPECT_EQ(r.stdout_data, "plain data");
  // A socket or FIFO itself cannot be bound.
  for (const char* path : {"/sub/host.sock", "/host.fifo"}) {
    Spec direct = shell("true");
    direct.ro_binds.push_back({host.dir + path, "/data/x"});
    Result d = run(direct);
    EXPECT_EQ(d.verdict, Verdict::kSandboxError) << path;
    EXPECT_NE(d.message.find(path), std::string::npos) << d.message;
  }
}

TEST_P(HardeningTest, PayloadsThatCannotBeExecutedAreProgramErrors) {
  struct ExecCase {
    const char* what;
    WorkFile file;
    int exit_code;
    const char* says;
  };
  const ExecCase cases[] = {
      {"missing", {"other", "", 0755}, 127, "No such file"},
      {"bad interpreter line", {"prog", "#!/no/such/interpreter\n", 0755}, 127, "interpreter"},
      {"no exec permission", {"prog", "#!/bin/sh\ntrue\n", 0644}, 126, "Permission denied"},
      {"not an executable", {"prog", "just some text\n", 0755}, 126, "Exec format error"},
  };
  for (const auto& c : cases) {
    Spec s = shell("true");
    s.argv = {"/work/prog"};
    s.files.push_back(c.file);
    Result r = run(s);
    EXPECT_EQ(r.verdict, Verdict::kRuntimeError) << c.what << ": " << r.message;
    EXPECT_EQ(r.decided_by, DecidedBy::kExecFailure) << c.what;
    EXPECT_EQ(r.exit_code, c.exit_code) << c.what;
    EXPECT_NE(r.message.find("/work/prog"), std::string::npos) << c.what << ": " << r.message;
    EXPECT_NE(r.message.find(c.says), std::string::npos) << c.what << ": " << r.message;
  }
}

TEST_P(HardeningTest, OneOversizedAllocationReportsTheMemoryLimit) {
  Spec s;
  s.argv = {"/usr/bin/python3", "-c", "b = bytearray(8 << 30)\nprint(len(b))"};
  s.limits.memory_mb = 256;
  s.limits.wall_ms = 20'000;
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit) << r.message << r.stderr_data;
}

TEST_P(HardeningTest, PythonMultiprocessingNumpyAndPandasWork) {
  Spec s;
  s.argv = {"/usr/bin/python3", "-c",
            "import multiprocessing as mp\n"
            "import numpy as np, pandas as pd\n"
            "if __name__ == '__main__':\n"
            "    with mp.Pool(2) as pool:\n"
            "        print(sum(pool.map(abs, range(-5, 5))))\n"
            "    print(int(np.arange(10).sum()), int(pd.DataFrame({'a': [1, 2, 3]})['a'].sum()))\n"};
  s.env = {"PATH=/usr/bin:/bin", "OPENBLAS_NUM_THREADS=1"};
  s.limits.wall_ms = 60'000;
  s.limits.cpu_ms = 60'000;
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "25\n45 6\n") << r.stderr_data;
}

// The host itself unprivileged, as in a rootless deployment (the fixture's rootless
// mode keeps a root host): a child drops to uid 65534 and runs the spec with a
// Sandbox of its own; its Result comes back as JSON.
nlohmann::json run_on_unprivileged_host(const Spec& spec) {
  int fds[2];
  if (pipe(fds) != 0) return {{"error", "pipe"}};
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    std::string out;
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
      out = nlohmann::json{{"error", "cannot drop to uid 65534"}}.dump();
    } else {
      try {
        Sandbox sb;
        out = sb.run(spec).to_json().dump();
      } catch (const std::exception& e) {
        out = nlohmann::json{{"error", e.what()}}.dump();
      }
    }
    for (std::size_t off = 0; off < out.size();) {
      ssize_t w = write(fds[1], out.data() + off, out.size() - off);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  waitpid(child, nullptr, 0);
  return nlohmann::json::parse(text, nullptr, false);
}

TEST_P(HardeningTest, CollectWorksOnAnUnprivilegedHost) {
  if (GetParam() == HostMode::kRoot) GTEST_SKIP() << "the rootless case";
  if (geteuid() != 0) GTEST_SKIP() << "the host is unprivileged already: the other collect tests cover it";
  Spec plain = shell("mkdir -p out && printf result > out/r.txt");
  plain.collect = {"out/r.txt", "missing.txt"};
  nlohmann::json r = run_on_unprivileged_host(plain);
  ASSERT_FALSE(r.is_discarded());
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["verdict"], "ok") << r.dump();
  EXPECT_EQ(r["files"]["out/r.txt"], "result") << r.dump();
  EXPECT_NE(r["message"].get<std::string>().find("missing.txt"), std::string::npos) << r.dump();

  // Symlinks to host paths and out of /work through "..": not followed.
  Spec links = attack("symlink_escape");
  links.collect = {"link_passwd", "link_root/etc/passwd", "link_proc/etc/passwd", "sub/up"};
  r = run_on_unprivileged_host(links);
  EXPECT_EQ(r["verdict"], "ok") << r.dump();
  EXPECT_TRUE(r["files"].empty()) << r.dump();
  EXPECT_NE(r["message"].get<std::string>().find("link_passwd"), std::string::npos) << r.dump();
  EXPECT_NE(r["message"].get<std::string>().find("sub/up"), std::string::npos) << r.dump();

  Spec fifo = attack("fifo");
  fifo.collect = {"pipe"};
  r = run_on_unprivileged_host(fifo);
  EXPECT_EQ(r["verdict"], "ok") << r.dump();
  EXPECT_TRUE(r["files"].empty()) << r.dump();
  EXPECT_NE(r["message"].get<std::string>().find("not a regular file"), std::string::npos) << r.dump();

  Spec big = attack("big_file");
  big.collect = {"big"};
  big.collect_max_bytes = 1 << 20;
  r = run_on_unprivileged_host(big);
  EXPECT_EQ(r["verdict"], "ok") << r.dump();
  EXPECT_TRUE(r["files"].empty()) << r.dump();
  EXPECT_NE(r["message"].get<std::string>().find("larger than"), std::string::npos) << r.dump();
}

INSTANTIATE_TEST_SUITE_P(Hosts, HardeningTest, ::testing::Values(HostMode::kRoot, HostMode::kRootless),
                         host_mode_name);

}  // namespace
}  // namespace envforge::sandbox::testing
