// One-shot runs: status, stdin/stdout, files in and out, binds, limits, bad specs.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "box_fixture.h"
#include "sandbox/cgroup_probe.h"

namespace envforge::sandbox::testing {
namespace {

class RunTest : public BoxTest {};

TEST_P(RunTest, ExitStatusAndOutputAreReported) {
  Result r = run(shell("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_NE(r.message.find("status 3"), std::string::npos);
  Result ok = run(shell("exit 0"));
  EXPECT_EQ(ok.verdict, Verdict::kOk);
  EXPECT_EQ(ok.exit_code, 0);
}

TEST_P(RunTest, StdinEnvAndWorkFilesReachThePayload) {
  Spec s = shell("cat; echo \"$GREETING\"; cat data/in.txt; ls -l run.sh | cut -c1-10; ./run.sh");
  s.stdin_data = std::string(200000, 'x') + "\n";  // larger than a pipe buffer
  s.env.push_back("GREETING=hello box");
  s.files.push_back({"data/in.txt", "file body\n", 0644});
  s.files.push_back({"run.sh", "#!/bin/sh\necho script ran as $(id -u)\n", 0755});
  Result r = run(s);
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_data;
  EXPECT_EQ(r.stdout_data, std::string(200000, 'x') + "\nhello box\nfile body\n-rwxr-xr-x\nscript ran as 1000\n");
}

TEST_P(RunTest, ProducedFilesAreCollected) {
  Spec s = shell("mkdir -p out && printf result > out/r.txt && printf x > other");
  s.collect = {"out/r.txt", "missing.txt"};
  Result r = run(s);
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message;
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files["out/r.txt"], "result");
  EXPECT_NE(r.message.find("missing.txt"), std::string::npos);
}

TEST_P(RunTest, ReadOnlyBindIsVisibleAndNotWritable) {
  char tmpl[] = "/tmp/envforge_bind_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "world data", 10), 10);
  close(fd);
  chmod(tmpl, 0644);
  Spec s = shell("cat /world/world.db; echo; (echo tamper > /world/world.db) 2>/dev/null && echo WROTE; exit 0");
  s.ro_binds.push_back({tmpl, "/world/world.db"});
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.message;
  EXPECT_EQ(r.stdout_data, "world data\n");
  EXPECT_EQ(read_host_file(tmpl), "world data");
  unlink(tmpl);
}

TEST_P(RunTest, InvalidSpecsAreSandboxErrorsNamingTheField) {
  Spec s = shell("true");
  s.argv = {"relative/prog"};
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_NE(r.message.find("argv[0]"), std::string::npos) << r.message;

  s = shell("true");
  s.files.push_back({"../escape", "x", 0644});
  r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_NE(r.message.find("../escape"), std::string::npos) << r.message;

  s = shell("true");
  s.ro_binds.push_back({"/does/not/exist", "/data/x"});
  r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_NE(r.message.find("/does/not/exist"), std::string::npos) << r.message;

  s = shell("true");
  s.ro_binds.push_back({"/etc/hostname", "/usr/bin/python3"});
  r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kSandboxError);
  EXPECT_NE(r.message.find("reserved"), std::string::npos) << r.message;
}

// The program's failure, not the sandbox's (see also HardeningTest).
TEST_P(RunTest, MissingProgramIsAProgramError) {
  Spec s = shell("true");
  s.argv = {"/usr/bin/no-such-program"};
  Result r = run(s);
  EXPECT_EQ(r.verdict, Verdict::kRuntimeError);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.message.find("no-such-program"), std::string::npos) << r.message;
}

TEST_P(RunTest, LimitModesAreRecorded) {
  Result r = run(shell("true"));
  EXPECT_EQ(r.limits_mode.memory, sandbox_->limit_modes().memory);
  EXPECT_EQ(r.limits_mode.pids, sandbox_->limit_modes().pids);
  auto j = r.to_json();
  EXPECT_TRUE(j["limits_mode"]["memory"].is_string());
  if (GetParam() == HostMode::kRootless) {
    EXPECT_EQ(j["limits_mode"]["memory"], "rlimit");
  } else {
    // What the host delegates (on the CI host: a writable cgroup v1 memory hierarchy).
    EXPECT_EQ(j["limits_mode"]["memory"], control_mode_name(probe_cgroups().memory.mode));
  }
}

TEST_P(RunTest, PythonRunsInTheBox) {
  Spec s;
  s.argv = {"/usr/bin/python3", "-c", "import json, os, sqlite3; print(json.dumps([os.getuid(), os.getcwd()]))"};
  Result r = run(s);
  ASSERT_EQ(r.verdict, Verdict::kOk) << r.message << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "[1000, \"/work\"]\n");
}

TEST_P(RunTest, ManyRunsInARowStayClean) {
  for (int i = 0; i < 20; ++i) {
    Result r = run(shell("exit " + std::to_string(i % 3)));
    ASSERT_EQ(r.exit_code, i % 3);
  }
}

INSTANTIATE_TEST_SUITE_P(Hosts, RunTest, ::testing::Values(HostMode::kRoot, HostMode::kRootless), host_mode_name);

}  // namespace
}  // namespace envforge::sandbox::testing
