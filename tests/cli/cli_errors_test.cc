// The envforge entry point: usage, unknown subcommands and bad options.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

struct Outcome {
  int exit_code;
  std::string output;
};

Outcome run_envforge(const std::string& args) {
  std::string cmd = std::string(ENVFORGE_BIN) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(Cli, HelpListsEverySubcommand) {
  auto r = run_envforge("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"synth", "audit", "export", "serve", "generate", "bench", "sandbox"})
    EXPECT_NE(r.output.find(sub), std::string::npos) << sub;
}

TEST(Cli, UnknownSubcommandExits2WithReason) {
  auto r = run_envforge("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown subcommand 'frobnicate'"), std::string::npos) << r.output;
}

TEST(Cli, NoArgumentsIsAUsageError) {
  auto r = run_envforge("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("usage"), std::string::npos);
}

}  // namespace

TEST(Cli, VersionNamesTheSourceRevision) {
  auto r = run_envforge("--version");
  EXPECT_EQ(r.exit_code, 0);
  // The tests run from a git checkout, so the revision is a commit id, never "unknown".
  const auto open = r.output.find('('), close = r.output.find(')');
  ASSERT_NE(open, std::string::npos) << r.output;
  ASSERT_NE(close, std::string::npos) << r.output;
  const std::string revision = r.output.substr(open + 1, close - open - 1);
  EXPECT_GE(revision.size(), 40u) << r.output;
  EXPECT_EQ(revision.find_first_not_of("0123456789abcdef-dirty"), std::string::npos) << r.output;
}
