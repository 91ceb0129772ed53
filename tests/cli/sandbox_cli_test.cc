// `envforge sandbox doctor` and `envforge sandbox run` through the real binary: the
// report, a run's Result as JSON for each kind of ending, files in and out, binds,
// networking, and every bad input as a usage error (exit 2) naming what was wrong.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/synth/cli_run.h"

namespace {

using ::envforge::testing::CliOutcome;

class SandboxCli : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << body;
    return path;
  }

  CliOutcome envforge(const std::string& args) { return ::envforge::testing::run_envforge(args, tmp_); }

  // A run whose stdout must be one Result as JSON.
  nlohmann::json run_json(const std::string& args, int want_exit) {
    CliOutcome o = envforge("sandbox run " + args);
    EXPECT_EQ(o.exit_code, want_exit) << args << "\n" << o.out << o.err;
    nlohmann::json j = nlohmann::json::parse(o.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << o.out << o.err;
    return j;
  }

  ::envforge::testing::CliTempDir tmp_;
  std::string dir_ = tmp_.path;
};

TEST_F(SandboxCli, DoctorReportsModesReasonsAndWorkingTrials) {
  CliOutcome o = envforge("sandbox doctor --json");
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  auto j = nlohmann::json::parse(o.out);
  for (const char* c : {"memory", "pids"}) {
    const std::string mode = j[c]["mode"];
    EXPECT_TRUE(mode == "cgroup_v2" || mode == "cgroup_v1" || mode == "rlimit") << mode;
    EXPECT_FALSE(j[c]["why"].get<std::string>().empty()) << c;
  }
  EXPECT_GT(j["seccomp_instructions"].get<int>(), 50);
  EXPECT_TRUE(j["rootless"].is_boolean());
  EXPECT_EQ(j["trial_run"]["verdict"], "ok") << o.out;
  EXPECT_EQ(j["trial_loopback"]["verdict"], "ok") << o.out;
  EXPECT_EQ(j["trial_python"]["verdict"], "ok") << o.out;
  // Which limit is enforced how, in this mode and (as root) without privileges.
  for (const char* limit : {"cpu", "memory", "pids", "wall", "output", "tmpfs", "open_files", "read_only_binds"})
    EXPECT_FALSE(j["limits"][limit].get<std::string>().empty()) << limit;
  EXPECT_EQ(j["limits"]["memory"].get<std::string>().find("memory cgroup") == 0, j["memory"]["mode"] != "rlimit")
      << j["limits"]["memory"];
  if (geteuid() == 0) {
    EXPECT_EQ(j["trial_rootless"]["verdict"], "ok") << o.out;
    EXPECT_NE(j["rootless_limits"]["memory"].get<std::string>().find("polled"), std::string::npos) << o.out;
    EXPECT_NE(j["rootless_limits"]["cpu"].get<std::string>().find("children it reaped"), std::string::npos) << o.out;
  }
  EXPECT_EQ(j["launcher"].get<std::string>().front(), '/');

  CliOutcome text = envforge("sandbox doctor");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("boxes work on this host"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("memory:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("limits:"), std::string::npos) << text.out;
}

TEST_F(SandboxCli, RunPrintsTheResult) {
  auto j = run_json("-- echo hello box", 0);
  EXPECT_EQ(j["verdict"], "ok");
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["stdout"], "hello box\n");
  EXPECT_EQ(j["stdout_truncated"], false);
  EXPECT_EQ(j["decided_by"], "exit_status");
  for (const char* k : {"signal", "cpu_ms", "wall_ms", "peak_kb", "stderr", "stderr_truncated", "message", "files"})
    EXPECT_TRUE(j.contains(k)) << k;
  const std::string mem = j["limits_mode"]["memory"];
  EXPECT_TRUE(mem == "cgroup_v2" || mem == "cgroup_v1" || mem == "rlimit") << mem;

  auto failed = run_json("-- sh -c 'echo oops >&2; exit 7'", 1);
  EXPECT_EQ(failed["verdict"], "runtime_error");
  EXPECT_EQ(failed["exit_code"], 7);
  EXPECT_EQ(failed["stderr"], "oops\n");
}

TEST_F(SandboxCli, RunEndsAtEachLimitWithItsVerdict) {
  auto wall = run_json("--wall-ms 300 -- sleep 30", 1);
  EXPECT_EQ(wall["verdict"], "time_limit");
  EXPECT_EQ(wall["decided_by"], "wall_clock");
  EXPECT_LT(wall["wall_ms"].get<int>(), 5000);

  auto cpu = run_json("--cpu-ms 200 -- sh -c 'while :; do :; done'", 1);
  EXPECT_EQ(cpu["verdict"], "time_limit");
  EXPECT_EQ(cpu["decided_by"], "reaper_cpu_clock");

  auto out = run_json("--out-kb 4 -- sh -c 'yes | head -c 100000'", 1);
  EXPECT_EQ(out["verdict"], "output_limit");
  EXPECT_EQ(out["stdout_truncated"], true);
  EXPECT_EQ(out["stdout"].get<std::string>().size(), 4096u);

  // Grows 1 MiB at a time, so that without a memory cgroup the peak RSS shows it too.
  auto mem = run_json("--mem-mb 48 -- python3 -c 'a = [bytearray(1 << 20) for _ in range(1000)]'", 1);
  EXPECT_EQ(mem["verdict"], "memory_limit") << mem.dump();
  const std::string by = mem["decided_by"];
  EXPECT_EQ(by, mem["limits_mode"]["memory"] == "rlimit" ? "rlimit_as_inferred_from_peak_rss" : "cgroup_oom_kill");

  auto fsize = run_json("--fsize-mb 1 -- sh -c 'exec head -c 3000000 /dev/zero > big'", 1);
  EXPECT_EQ(fsize["verdict"], "output_limit") << fsize.dump();
  EXPECT_EQ(fsize["decided_by"], "rlimit_fsize");
}

TEST_F(SandboxCli, RunPlacesFilesFeedsStdinAndCollects) {
  std::string script = write("job.sh", "#!/bin/sh\nread n\necho $((n * 2)) > out/answer.txt\necho ran as $(id -u)\n");
  chmod(script.c_str(), 0755);
  std::string input = write("in.txt", "21\n");
  auto j = run_json("--file job.sh=" + script + " --stdin " + input +
                        " --collect out/answer.txt --collect missing.txt -- sh -c 'mkdir out && ./job.sh'",
                    0);
  EXPECT_EQ(j["verdict"], "ok") << j.dump();
  EXPECT_EQ(j["stdout"], "ran as 1000\n");
  EXPECT_EQ(j["files"]["out/answer.txt"], "42\n");
  EXPECT_FALSE(j["files"].contains("missing.txt"));
}

TEST_F(SandboxCli, RunBindsReadOnlyAndKeepsTheNetworkClosedUnlessAsked) {
  write("world.txt", "the world\n");
  chmod(dir_.c_str(), 0755);  // the box's user is not the host's: it reads what others may
  auto bind = run_json("--ro-bind " + dir_ + ":/data -- sh -c 'cat /data/world.txt; echo x > /data/world.txt'", 1);
  EXPECT_EQ(bind["stdout"], "the world\n");
  EXPECT_NE(bind["stderr"].get<std::string>().find("Read-only"), std::string::npos) << bind.dump();
  EXPECT_EQ(::envforge::testing::slurp_file(dir_ + "/world.txt"), "the world\n");

  const std::string listen = "-- python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(\"up\")'";
  auto loop = run_json("--net loopback " + listen, 0);
  EXPECT_EQ(loop["stdout"], "up\n") << loop.dump();
  auto none = run_json(listen, 1);
  EXPECT_EQ(none["verdict"], "runtime_error");
  EXPECT_NE(none["stderr"].get<std::string>().find("PermissionError"), std::string::npos) << none.dump();
}

TEST_F(SandboxCli, BadInputIsAUsageErrorNamingIt) {
  struct Bad {
    std::string args, says;
  };
  const std::string missing = dir_ + "/no-such-file";
  for (const Bad& b : std::initializer_list<Bad>{
           {"sandbox run", "missing command"},
           {"sandbox run --wall-ms 100", "missing command"},
           {"sandbox run echo hi", "unexpected argument 'echo'"},
           {"sandbox run --net wifi -- true", "--net must be none or loopback, not 'wifi'"},
           {"sandbox run --file noequals -- true", "--file 'noequals' is not NAME=PATH"},
           {"sandbox run --file x=" + missing + " -- true", "cannot read --file '" + missing + "'"},
           {"sandbox run --stdin " + missing + " -- true", "cannot read --stdin"},
           {"sandbox run --out-kb 0 -- true", "--out-kb must be in 1..1048576"},
           {"sandbox run --pids 0 -- true", "--pids must be in 1..65536"},
           {"sandbox run --mem-mb 1 -- true", "limits.memory_mb must be in 8..1048576"},
           {"sandbox run --wall-ms abc -- true", "--wall-ms 'abc' is not a whole number"},
           {"sandbox run --cpu-ms 5x -- true", "--cpu-ms '5x' is not a whole number"},
           {"sandbox run --frobnicate -- true", "frobnicate"},
           {"sandbox run --ro-bind /etc/hostname:/usr -- true", "reserved"},
           {"sandbox run --ro-bind " + missing + ":/data -- true", missing},
           {"sandbox run --file ../up=" + write("f.txt", "x") + " -- true", "'../up' is not a clean relative path"},
           {"sandbox run --file d=" + dir_ + " -- true", "cannot read --file '" + dir_ + "'"},
           {"sandbox run --collect /etc/passwd -- true", "collect path '/etc/passwd'"},
           {"sandbox run -- no-such-command-here", "command 'no-such-command-here' not found"},
           {"sandbox frob", "unknown action 'frob'"},
           {"sandbox", "usage"},
           {"sandbox doctor extra", "unexpected argument 'extra'"},
       }) {
    CliOutcome o = envforge(b.args);
    EXPECT_EQ(o.exit_code, 2) << b.args << "\n" << o.out << o.err;
    EXPECT_NE(o.err.find(b.says), std::string::npos) << b.args << ": " << o.err;
    EXPECT_EQ(o.out, "") << b.args;
  }
  // A missing program inside the box is the box's to report (it may exist only there),
  // as the program's failure.
  auto j = run_json("-- /no/such/program", 1);
  EXPECT_EQ(j["verdict"], "runtime_error");
  EXPECT_EQ(j["exit_code"], 127);
  EXPECT_EQ(j["decided_by"], "exec_failure");
  EXPECT_NE(j["message"].get<std::string>().find("/no/such/program"), std::string::npos) << j.dump();
}

}  // namespace
