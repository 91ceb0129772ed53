// A real single-node Slurm cluster runs a sharded `envforge synth` array and
// its merge (scripts/slurm/test_cluster.sh); skipped with the script's reason
// where Slurm cannot start (not root, packages missing, daemons refused).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

struct ScriptResult {
  int status = -1;
  std::string output;
};

ScriptResult run_script(const std::string& command) {
  ScriptResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return r;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

TEST(SlurmCluster, ShardedArrayAndMergeMakeTheUnshardedCorpus) {
  ScriptResult r = run_script(std::string(ENVFORGE_SOURCE_DIR) + "/scripts/slurm/test_cluster.sh " +
                              ENVFORGE_BIN + " 8");
  if (r.status == 77) GTEST_SKIP() << last_line(r.output);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("PASS:"), std::string::npos) << r.output;
}

}  // namespace
