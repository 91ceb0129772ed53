// `envforge endpoint` as users run it: the binary on a free port, a request, SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <regex>

#include <gtest/gtest.h>

#include "tests/endpoint/endpoint_fixture.h"

namespace envforge::testing {
namespace {

TEST(EndpointCli, ServesTheModelAndStopsOnSigterm) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::execl(ENVFORGE_BIN, ENVFORGE_BIN, "endpoint", "--model", kTinyModel.c_str(), "--port", "0", "--device", "cpu",
            "--served-model-name", "tiny", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // The first line says where it listens.
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex("listening on http://127\\.0\\.0\\.1:(\\d+)/v1"))) << line;
  const uint16_t port = static_cast<uint16_t>(std::stoi(m[1]));
  RawReply models = http_call(port, "GET", "/v1/models");
  EXPECT_EQ(models.status, 200);
  EXPECT_EQ(models.json["data"][0]["id"], "tiny");
  RawReply reply = http_call(port, "POST", "/v1/chat/completions",
                             R"({"model":"tiny","max_tokens":3,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json["usage"]["completion_tokens"].get<int>() >= 1, true);
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ::close(out[0]);
}

TEST(EndpointCli, UsageErrors) {
  for (const std::string args : {std::string("endpoint"), std::string("endpoint --model /x --host 0.0.0.0"),
                                 std::string("endpoint --model /x --max-batch 0")}) {
    const std::string cmd = std::string(ENVFORGE_BIN) + " " + args + " 2>/dev/null >/dev/null";
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status)) << args;
    EXPECT_EQ(WEXITSTATUS(status), 2) << args;  // usage error
  }
}

}  // namespace
}  // namespace envforge::testing
