// The verdict and the mechanism that decided it, from what a box reported and what the
// host did to it (no box runs here: decide_verdict is fed each case directly).
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "sandbox/box_handle.h"

namespace envforge::sandbox {
namespace {

struct Case {
  StatusRecord rec;
  bool reported = true;  // false: the reaper reported nothing
  VerdictInputs in;
  Limits limits;

  Case() {
    limits.memory_mb = 256;
    limits.cpu_ms = 1000;
    limits.max_pids = 8;
  }
  Case& exited(int status) {
    rec.wait_status = W_EXITCODE(status, 0);
    return *this;
  }
  Case& signaled(int sig) {
    rec.wait_status = sig;  // WIFSIGNALED form
    return *this;
  }
  Result decide() {
    in.record = reported ? &rec : nullptr;
    in.limits = &limits;
    Result r;
    decide_verdict(in, r);
    return r;
  }
};

TEST(Verdict, MemoryVerdictFromACgroupSaysSo) {
  Case c;
  c.signaled(SIGKILL);
  c.in.modes.memory = ControlMode::kCgroupV1;
  c.in.usage.oom_kills = 1;
  c.in.usage.peak_kb = 256 * 1024;
  Result r = c.decide();
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit);
  EXPECT_EQ(r.decided_by, DecidedBy::kCgroupOomKill);
  EXPECT_NE(r.message.find("memory cgroup OOM kill"), std::string::npos) << r.message;
  EXPECT_EQ(r.to_json()["decided_by"], "cgroup_oom_kill");
}

TEST(Verdict, MemoryVerdictUnderRlimitsIsMarkedAsInferred) {
  Case c;
  c.exited(1);  // e.g. a MemoryError: nothing says "memory" but the peak RSS
  c.in.modes.memory = ControlMode::kRlimit;
  c.rec.maxrss_kb = 230 * 1024;
  Result r = c.decide();
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit);
  EXPECT_EQ(r.decided_by, DecidedBy::kAddressSpaceRlimit);
  EXPECT_NE(r.message.find("presumed"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("no memory cgroup"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("230 MiB"), std::string::npos) << r.message;
  EXPECT_EQ(r.to_json()["decided_by"], "rlimit_as_inferred_from_peak_rss");
}

TEST(Verdict, FailedRunFarBelowTheMemoryLimitIsARuntimeError) {
  Case c;
  c.exited(1);
  c.rec.maxrss_kb = 20 * 1024;
  Result r = c.decide();
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_EQ(r.decided_by, DecidedBy::kExitStatus);
  // A successful run is never a memory verdict, however close it came.
  Case ok;
  ok.exited(0);
  ok.rec.maxrss_kb = 250 * 1024;
  Result o = ok.decide();
  EXPECT_EQ(o.verdict, Verdict::kOk);
  EXPECT_EQ(o.decided_by, DecidedBy::kExitStatus);
}

TEST(Verdict, EachTimeMechanismIsNamed) {
  Case wall;
  wall.in.host_kill = HostKill::kWall;
  EXPECT_EQ(wall.decide().decided_by, DecidedBy::kWallClock);

  Case reaper;
  reaper.signaled(SIGKILL);
  reaper.rec.flags = StatusRecord::kCpuLimit;
  Result r = reaper.decide();
  EXPECT_EQ(r.verdict, Verdict::kTimeLimit);
  EXPECT_EQ(r.decided_by, DecidedBy::kReaperCpuClock);
  EXPECT_NE(r.message.find("CPU time limit of 1000 ms"), std::string::npos) << r.message;

  Case xcpu;
  xcpu.signaled(SIGXCPU);
  EXPECT_EQ(xcpu.decide().decided_by, DecidedBy::kCpuRlimit);

  Case usage;
  usage.exited(0);
  usage.rec.utime_us = 1'500'000;
  Result u = usage.decide();
  EXPECT_EQ(u.verdict, Verdict::kTimeLimit);
  EXPECT_EQ(u.decided_by, DecidedBy::kCpuUsage);
}

TEST(Verdict, PolicyOutputAndFileSizeAreNamed) {
  Case sys;
  sys.signaled(SIGSYS);
  Result s = sys.decide();
  EXPECT_EQ(s.verdict, Verdict::kKilledByPolicy);
  EXPECT_EQ(s.decided_by, DecidedBy::kSeccomp);

  Case out;
  out.in.host_kill = HostKill::kOutput;
  Result o = out.decide();
  EXPECT_EQ(o.verdict, Verdict::kOutputLimit);
  EXPECT_EQ(o.decided_by, DecidedBy::kOutputCap);

  Case fsize;
  fsize.signaled(SIGXFSZ);
  Result f = fsize.decide();
  EXPECT_EQ(f.verdict, Verdict::kOutputLimit);
  EXPECT_EQ(f.decided_by, DecidedBy::kFileSizeRlimit);
}

TEST(Verdict, SandboxFailuresAreTheSandboxs) {
  Case setup;
  setup.rec.kind = BoxEnd::kSetupError;
  std::snprintf(setup.rec.message, sizeof setup.rec.message, "mount the box tmpfs: EPERM");
  Result r = setup.decide();
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_EQ(r.decided_by, DecidedBy::kSandbox);
  EXPECT_NE(r.message.find("mount the box tmpfs"), std::string::npos);

  Case silent;
  silent.reported = false;
  Result s = silent.decide();
  EXPECT_EQ(s.verdict, Verdict::kSandboxError);
  EXPECT_EQ(s.decided_by, DecidedBy::kSandbox);
}

TEST(Verdict, RefusedForksAreExplainedWithoutChangingTheVerdict) {
  Case c;
  c.exited(2);
  c.in.modes.pids = ControlMode::kCgroupV1;
  c.in.usage.pids_denied = 5;
  Result r = c.decide();
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_NE(r.message.find("exited with status 2"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("5 fork(s) refused at the process limit of 8"), std::string::npos) << r.message;
  // A run that succeeded anyway says nothing about it.
  Case ok;
  ok.exited(0);
  ok.in.usage.pids_denied = 5;
  EXPECT_EQ(ok.decide().message, "");
}

TEST(Verdict, AnExecFailureIsTheProgramsUnlessMemoryOrTheBox) {
  for (auto [err, code] : {std::pair{ENOENT, 127}, {EACCES, 126}, {ENOEXEC, 126}}) {
    Case c;
    c.rec.kind = BoxEnd::kExecError;
    c.rec.error = err;
    std::snprintf(c.rec.message, sizeof c.rec.message, "cannot execute /work/x: %s", strerror(err));
    Result r = c.decide();
    EXPECT_EQ(r.verdict, Verdict::kRuntimeError) << err;
    EXPECT_EQ(r.exit_code, code) << err;
    EXPECT_EQ(r.decided_by, DecidedBy::kExecFailure);
    EXPECT_EQ(r.to_json()["decided_by"], "exec_failure");
  }
  Case mem;
  mem.rec.kind = BoxEnd::kExecError;
  mem.rec.error = ENOMEM;
  EXPECT_EQ(mem.decide().verdict, Verdict::kMemoryLimit);
  Case other;
  other.rec.kind = BoxEnd::kExecError;
  other.rec.error = EFAULT;
  EXPECT_EQ(other.decide().verdict, Verdict::kSandboxError);
}

TEST(Verdict, AnyOomKillInTheBoxIsTheMemoryLimit) {
  Case survived;  // a child was killed, the payload went on and exited 0
  survived.exited(0);
  survived.in.modes.memory = ControlMode::kCgroupV1;
  survived.in.usage.oom_kills = 1;
  EXPECT_EQ(survived.decide().verdict, Verdict::kMemoryLimit);
  Case init_killed;  // the tmpfs filled the cgroup and the box's PID 1 was chosen
  init_killed.reported = false;
  init_killed.in.modes.memory = ControlMode::kCgroupV1;
  init_killed.in.usage.oom_kills = 1;
  Result r = init_killed.decide();
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit) << r.message;
  EXPECT_EQ(r.decided_by, DecidedBy::kCgroupOomKill);
}

TEST(Verdict, ARefusedAllocationIsTheMemoryLimitWhenTheRunFailed) {
  Case c;
  c.exited(1);
  c.in.modes.memory = ControlMode::kCgroupV1;
  c.in.stderr_data = "Traceback (most recent call last):\n  File \"<string>\", line 1\nMemoryError\n";
  Result r = c.decide();
  EXPECT_EQ(r.verdict, Verdict::kMemoryLimit);
  EXPECT_EQ(r.decided_by, DecidedBy::kAllocationRefused);
  EXPECT_NE(r.message.find("presumed"), std::string::npos) << r.message;
  Case ok;
  ok.exited(0);
  ok.in.stderr_data = "MemoryError";
  EXPECT_EQ(ok.decide().verdict, Verdict::kOk);
}

TEST(Verdict, TheReapersMeasuresAreReported) {
  Case mem;
  mem.signaled(SIGKILL);
  mem.rec.flags = StatusRecord::kMemoryLimit;
  mem.rec.box_memory_kb = 300 * 1024;
  Result m = mem.decide();
  EXPECT_EQ(m.verdict, Verdict::kMemoryLimit);
  EXPECT_EQ(m.decided_by, DecidedBy::kReaperMemorySum);
  EXPECT_NE(m.message.find("300 MiB"), std::string::npos) << m.message;
  // CPU of the whole box, from the record or (for a box killed before it reported)
  // from its cgroup.
  Case cpu;
  cpu.exited(0);
  cpu.rec.box_cpu_us = 700'000;
  EXPECT_EQ(cpu.decide().cpu_ms, 700);
  Case wall;
  wall.reported = false;
  wall.in.host_kill = HostKill::kWall;
  wall.in.usage.cpu_us = 4'900'000;
  Result w = wall.decide();
  EXPECT_EQ(w.cpu_ms, 4900);
  EXPECT_EQ(w.verdict, Verdict::kTimeLimit);
}

}  // namespace
}  // namespace envforge::sandbox
