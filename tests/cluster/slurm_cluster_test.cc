// A real single-node Slurm cluster runs a sharded `envforge synth` array and
// its merge (scripts/slurm/test_cluster.sh); skipped with the script's reason
// where Slurm cannot start (not root, packages missing, daemons refused).
#include <gtest/gtest.h>

#include <string>

#include "tests/cluster/run_command.h"

namespace envforge {
namespace {

using cluster_test::envforge_bin;
using cluster_test::Ran;
using cluster_test::run_command;

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

TEST(SlurmCluster, ShardedArrayAndMergeMakeTheUnshardedCorpus) {
  Ran r = run_command(std::string(ENVFORGE_SOURCE_DIR) + "/scripts/slurm/test_cluster.sh " +
                      envforge_bin() + " 8");
  if (r.status == 77) GTEST_SKIP() << last_line(r.output);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("PASS:"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace envforge
