// The attack suite: real hostile programs (attack.c) run in boxes, each with its
// expected verdict; the fixture checks after each that nothing was left behind.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "box_fixture.h"

namespace envforge::sandbox::testing {
namespace {

class AttackTest : public BoxTest {};

// A host socket on 127.0.0.1 that a box must not reach.
struct HostListener {
  explicit HostListener(int type) {
    fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (type == SOCK_STREAM) listen(fd, 8);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~HostListener() { close(fd); }
  bool touched() const {
    char buf[16];
    int c = accept(fd, nullptr, nullptr);
    if (c >= 0) close(c);
    return c >= 0 || recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0;
  }
  int fd = -1;
  int port = 0;
};

TEST_P(AttackTest, ForkBombHitsTheWallLimit) {
  Spec s = attack("fork_bomb");
  s.limits.wall_ms = 1500;
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kTimeLimit) << r.message;
}

TEST_P(AttackTest, MemoryBombHitsTheMemoryLimit) {
  Result r = run(attack("memory_bomb"));
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit) << r.message << " peak_kb=" << r.peak_kb;
  // The Result names what decided: a measurement by the cgroup, or the inference made
  // without one.
  EXPECT_EQ(r.decided_by, r.limits_mode.memory == ControlMode::kRlimit ? DecidedBy::kAddressSpaceRlimit
                                                                        : DecidedBy::kCgroupOomKill)
      << r.message;
}

TEST_P(AttackTest, StackOverflowIsARuntimeError) {
  Result r = run(attack("stack_overflow"));
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError) << r.message;
  EXPECT_EQ(r.signal, SIGSEGV);
}

TEST_P(AttackTest, InfiniteLoopHitsTheCpuLimit) {
  Spec s = attack("cpu_loop");
  s.limits.cpu_ms = 1000;
  s.limits.wall_ms = 30'000;  // a busy machine gives a second of CPU slowly
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kTimeLimit) << r.message;
  EXPECT_NE(r.message.find("CPU"), std::string::npos) << r.message;
}

// The CPU limit is enforced by the box's reaper at ms granularity (RLIMIT_CPU counts
// whole seconds): 300 ms of CPU ends the run with the CPU verdict well before 1 s of
// CPU, whether the time is burnt by the payload, by several threads, or by a child.
TEST_P(AttackTest, CpuLimitHasMillisecondGranularity) {
  for (const char* mode : {"cpu_loop", "cpu_threads", "cpu_child"}) {
    Spec s = attack(mode);
    s.limits.cpu_ms = 300;
    s.limits.wall_ms = 20'000;
    Result r = run(s);
    EXPECT_EQ(r.verdict, Verdict::kTimeLimit) << mode << ": " << r.message;
    EXPECT_NE(r.message.find("CPU time limit of 300 ms"), std::string::npos) << mode << ": " << r.message;
    EXPECT_EQ(r.decided_by, DecidedBy::kReaperCpuClock) << mode << ": " << r.message;
    EXPECT_GE(r.cpu_ms, 300) << mode;
    EXPECT_LT(r.cpu_ms, 900) << mode;
    EXPECT_EQ(r.signal, SIGKILL) << mode;
  }
}

TEST_P(AttackTest, SleepForeverHitsTheWallLimit) {
  Spec s = attack("sleep_forever");
  s.limits.wall_ms = 400;
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kTimeLimit);
  EXPECT_GE(r.wall_ms, 400);
  EXPECT_LT(r.wall_ms, 3000);
}

TEST_P(AttackTest, StdoutFloodIsCutAtTheCap) {
  Result r = run(attack("stdout_flood"));
  EXPECT_EQ(r.verdict, Verdict::kOutputLimit);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stdout_data.size(), 64u << 10);
}

TEST_P(AttackTest, StderrFloodIsCutAtTheCap) {
  Result r = run(attack("stderr_flood"));
  EXPECT_EQ(r.verdict, Verdict::kOutputLimit);
  EXPECT_TRUE(r.stderr_truncated);
  EXPECT_EQ(r.stderr_data.size(), 64u << 10);
}

// /work and /tmp share one tmpfs of the spec's size (16 MiB here, not the 64 MiB a box
// is prepared with), in boxes with read-only binds (root finished after the request)
// and without (root finished before it) alike.
TEST_P(AttackTest, FillingTheWorkDirStopsAtTheTmpfsSize) {
  for (bool with_bind : {false, true}) {
    for (const char* dir : {"/work", "/tmp"}) {
      Spec s = attack("fill_tmpfs", {dir});
      if (with_bind) s.ro_binds.push_back({"/etc/hostname", "/data/hostname"});
      Result r = run(s);
      EXPECT_EQ(r.verdict, Verdict::kRuntimeError) << dir << " " << r.message;
      EXPECT_EQ(r.exit_code, 6) << dir << ": " << r.stdout_data;  // ENOSPC, not something else
      unsigned long long bytes = 0;
      ASSERT_EQ(std::sscanf(r.stdout_data.c_str(), "stopped after %llu bytes", &bytes), 1) << r.stdout_data;
      EXPECT_LE(bytes, 16ull << 20) << dir << (with_bind ? " (with a bind)" : "");
      EXPECT_GE(bytes, 8ull << 20) << dir << (with_bind ? " (with a bind)" : "");
    }
  }
}

TEST_P(AttackTest, FileSizeLimitIsAnOutputLimit) {
  Spec s = attack("file_size");
  s.limits.file_size_mb = 1;
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kOutputLimit) << r.message;
  EXPECT_EQ(r.signal, SIGXFSZ);
}

TEST_P(AttackTest, WritingOutsideTheWorkDirFails) {
  Result r = run(attack("write_outside"));
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.stdout_data;
  expect_no_escape(r);
}

TEST_P(AttackTest, HostSecretsAndTheParentsFilesAreInvisible) {
  Result r = run(attack("read_secrets", {std::string(ENVFORGE_SOURCE_DIR) + "/CMakeLists.txt"}));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  expect_no_escape(r);
  EXPECT_NE(r.stdout_data.find("refused /etc/shadow"), std::string::npos) << r.stdout_data;
}

TEST_P(AttackTest, ProcShowsNoHostEnvironment) {
  // The host's environment (and the launcher's) must not reach any process in the box.
  setenv("ENVFORGE_TEST_SECRET", "s3cr3t-marker", 1);
  sandbox_.reset();
  SetUp();
  Result r = run(attack("proc_environ"));
  unsetenv("ENVFORGE_TEST_SECRET");
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.stdout_data.find("s3cr3t-marker"), std::string::npos) << r.stdout_data;
}

TEST_P(AttackTest, OnlyTheBoxsProcessesAreVisible) {
  Result r = run(attack("count_procs"));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  expect_no_escape(r);
}

TEST_P(AttackTest, TcpAndUdpToTheHostLoopbackFail) {
  HostListener tcp(SOCK_STREAM), udp(SOCK_DGRAM);
  Result a = run(attack("tcp", {"127.0.0.1", std::to_string(tcp.port)}));
  Result b = run(attack("udp", {"127.0.0.1", std::to_string(udp.port)}));
  EXPECT_EQ(a.verdict, Verdict::kOk);
  EXPECT_EQ(b.verdict, Verdict::kOk);
  expect_no_escape(a);
  expect_no_escape(b);
  EXPECT_FALSE(tcp.touched());
  EXPECT_FALSE(udp.touched());
}

TEST_P(AttackTest, TcpAndUdpToAPublicAddressFail) {
  Result a = run(attack("tcp", {"1.1.1.1", "80"}));
  Result b = run(attack("udp", {"8.8.8.8", "53"}));
  expect_no_escape(a);
  expect_no_escape(b);
  EXPECT_EQ(a.verdict, Verdict::kOk);
  EXPECT_EQ(b.verdict, Verdict::kOk);
}

TEST_P(AttackTest, LoopbackModeStaysInsideTheBox) {
  HostListener tcp(SOCK_STREAM);
  Spec s = attack("tcp", {"127.0.0.1", std::to_string(tcp.port)});
  s.network = Network::kLoopback;
  Result a = run(s);
  expect_no_escape(a);
  EXPECT_FALSE(tcp.touched());
  Spec pub = attack("tcp", {"1.1.1.1", "80"});
  pub.network = Network::kLoopback;
  expect_no_escape(run(pub));
  Spec self = attack("loopback_self");
  self.network = Network::kLoopback;
  Result c = run(self);
  EXPECT_EQ(c.verdict, Verdict::kOk) << c.message;
  EXPECT_EQ(c.stdout_data, "LOOPBACK_OK\n");
}

TEST_P(AttackTest, RawAndNetlinkSocketsAreRefused) {
  Result r = run(attack("other_sockets"));
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.stdout_data;
  expect_no_escape(r);
  EXPECT_NE(r.stdout_data.find("AF_UNIX ok"), std::string::npos);
}

TEST_P(AttackTest, PtraceOfASiblingIsKilledByPolicy) {
  Result r = run(attack("ptrace_sibling"));
  EXPECT_EQ(r.verdict, Verdict::kKilledByPolicy) << r.message;
  expect_no_escape(r);
}

// Forbidden system calls: each kills the process (SIGSYS).
TEST_P(AttackTest, ForbiddenSystemCallsAreKilledByPolicy) {
  for (const char* mode : {"mount", "unshare", "clone_userns", "chroot", "bpf", "perf_event", "keyctl", "personality"}) {
    Result r = run(attack(mode));
    EXPECT_EQ(r.verdict, Verdict::kKilledByPolicy) << mode << ": " << r.message;
    expect_no_escape(r);
  }
}

TEST_P(AttackTest, Clone3AndIoUringAreRefusedGracefully) {
  Result a = run(attack("clone3"));
  EXPECT_EQ(a.verdict, Verdict::kOk) << a.stdout_data;
  Result b = run(attack("io_uring"));
  EXPECT_EQ(b.verdict, Verdict::kOk) << b.stdout_data;
  expect_no_escape(b);
}

TEST_P(AttackTest, TheBoxUserCannotBecomeRoot) {
  Result r = run(attack("become_root"));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.stdout_data, "uid 1000 euid 1000\n");
}

TEST_P(AttackTest, SetuidBinariesGiveNothing) {
  Result r = run(attack("setuid_exec", {"/usr/bin/su"}));
  // su as the box user without a password must fail; success would mean it ran as root.
  EXPECT_NE(r.verdict, Verdict::kOk) << r.stdout_data << r.stderr_data;
  expect_no_escape(r);
}

TEST_P(AttackTest, SymlinksOutOfTheWorkDirAreNotFollowedOnCollect) {
  Spec s = attack("symlink_escape");
  s.collect = {"link_passwd", "link_root/etc/passwd", "link_proc/etc/passwd", "sub/up"};
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_TRUE(r.files.empty());
  EXPECT_NE(r.message.find("link_passwd"), std::string::npos) << r.message;
}

TEST_P(AttackTest, HardLinksAreRefused) {
  Spec s = attack("hardlink_escape");
  s.collect = {"hard_passwd", "hard_py", "own"};
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kOk);
  expect_no_escape(r);
  EXPECT_TRUE(r.files.empty()) << "a file with other hard links must not be collected";
}

TEST_P(AttackTest, ProcMemOfTheReaperIsOutOfReach) {
  Result r = run(attack("proc_mem"));
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.stdout_data;
  expect_no_escape(r);
}

TEST_P(AttackTest, KillingTheParentLeavesTheSandboxWorking) {
  Result r = run(attack("kill_parent", {std::to_string(sandbox_->launcher_pid())}));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.stdout_data, "still here\n");
  EXPECT_EQ(kill(sandbox_->launcher_pid(), 0), 0);
  EXPECT_EQ(run(shell("true")).verdict, Verdict::kOk);
}

TEST_P(AttackTest, ADaemonDiesWithTheRun) {
  Result r = run(attack("daemonize"));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.stdout_data, "parent done\n");
  EXPECT_LT(r.wall_ms, 3000);
}

TEST_P(AttackTest, ThreadCountIsCapped) {
  Result r = run(attack("many_threads"));
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.message;
  int threads = std::atoi(r.stdout_data.c_str() + std::string("threads: ").size());
  EXPECT_GT(threads, 0);
  EXPECT_LE(threads, 32);
}

TEST_P(AttackTest, HugeArgvIsRefusedAndLargeEnvWorks) {
  Spec s = attack("true");
  for (int i = 0; i < 20000; ++i) s.argv.push_back(std::string(100, 'a'));
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_NE(r.message.find("argv and env"), std::string::npos) << r.message;
  Spec e = shell("echo ${#BIG1} ${#BIG4}");
  for (int i = 0; i < 5; ++i) e.env.push_back("BIG" + std::to_string(i) + "=" + std::string(100000, 'b'));
  Result ok = run(e);
  EXPECT_EQ(ok.verdict, Verdict::kOk) << ok.message;
  EXPECT_EQ(ok.stdout_data, "100000 100000\n");
}

TEST_P(AttackTest, NonUtf8OutputIsKeptAndJsonStaysValid) {
  Result r = run(attack("non_utf8"));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.stdout_data, "\xff\xfe\x80 ok \xc3\x28\n");
  std::string dumped = r.to_json().dump();
  EXPECT_NO_THROW(nlohmann::json::parse(dumped));
}

TEST_P(AttackTest, TerminalInjectionIsRefused) {
  Result r = run(attack("tiocsti"));
  EXPECT_EQ(r.verdict, Verdict::kOk);
  expect_no_escape(r);
}

TEST_P(AttackTest, FifosAndOversizedFilesAreNotCollected) {
  Spec a = attack("fifo");
  a.collect = {"pipe"};
  Result r = run(a);
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_TRUE(r.files.empty());
  Spec b = attack("big_file");
  b.collect = {"big"};
  b.collect_max_bytes = 1 << 20;
  Result big = run(b);
  EXPECT_EQ(big.verdict, Verdict::kOk);
  EXPECT_TRUE(big.files.empty());
  EXPECT_NE(big.message.find("larger than"), std::string::npos) << big.message;
}

INSTANTIATE_TEST_SUITE_P(Hosts, AttackTest, ::testing::Values(HostMode::kRoot, HostMode::kRootless), host_mode_name);

}  // namespace
}  // namespace envforge::sandbox::testing
