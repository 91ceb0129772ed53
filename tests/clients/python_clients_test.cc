// clients/python against the real server: synthesize a small corpus, start `envforge serve`
// on a free loopback port, run the Python unittest suite (clients/python/tests) against it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/synth/cli_run.h"

namespace envforge::clients_testing {
namespace {

using envforge::testing::CliTempDir;
using envforge::testing::run_envforge;
using envforge::testing::slurp_file;

// A port nobody listens on right now (the kernel's pick for port 0).
int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

// GET /health answered with 200.
bool healthy(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[64] = {};
      ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      ok = n > 12 && std::string(buf, static_cast<size_t>(n)).find(" 200 ") != std::string::npos;
    }
  }
  close(fd);
  return ok;
}

// The interpreter with `websockets` (Debian's python3-websockets lives in /usr/bin/python3's
// dist-packages; a python3 earlier on PATH may lack it). Empty when none has it.
std::string python_with_websockets() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    std::string cmd = std::string(py) + " -c 'import websockets' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

class Server {
 public:
  Server(const std::string& corpus, const std::string& log) {
    for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
      port_ = free_loopback_port();
      pid_t pid = fork();
      if (pid == 0) {
        std::string port = std::to_string(port_);
        freopen(log.c_str(), "a", stderr);
        freopen("/dev/null", "w", stdout);
        execl(ENVFORGE_BIN, ENVFORGE_BIN, "serve", "--corpus", corpus.c_str(), "--host", "127.0.0.1", "--port",
              port.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      // Up to 120 s: the first sandbox sessions start slowly on a busy machine under ASan.
      for (int i = 0; i < 1200; ++i) {
        if (healthy(port_)) {
          pid_ = pid;
          break;
        }
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) break;  // exited (port taken?): try another
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (pid_ <= 0 && kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 600 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (kill(pid_, 0) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
  }
  bool up() const { return pid_ > 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(PythonClients, UnittestSuitePassesAgainstTheRealServer) {
  std::string python = python_with_websockets();
  if (python.empty()) GTEST_SKIP() << "no python3 with websockets: run scripts/setup.sh (python3-websockets)";
  CliTempDir dir;
  std::string corpus = dir.file("corpus.db");
  auto synth = run_envforge("synth --count 1 --out " + corpus, dir);
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  std::string log = dir.file("serve.log");
  Server server(corpus, log);
  if (!server.up() && slurp_file(log).find("not available yet") != std::string::npos)
    GTEST_SKIP() << "envforge serve has not landed in this build";
  ASSERT_TRUE(server.up()) << "envforge serve did not come up: " << slurp_file(log);

  std::string src = std::string(ENVFORGE_SOURCE_DIR) + "/clients/python";
  std::string out = dir.file("unittest.txt");
  std::string cmd = "cd '" + src + "' && ENVFORGE_TEST_URL=" + server.url() + " PYTHONDONTWRITEBYTECODE=1 " +
                    python + " -m unittest discover -v -s tests -t . >'" + out + "' 2>&1";
  int status = std::system(cmd.c_str());
  std::string text = slurp_file(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text << "\nserver log:\n" << slurp_file(log);
  // Every server-backed class ran (none skipped for want of a server).
  EXPECT_EQ(text.find("ENVFORGE_TEST_URL is not set"), std::string::npos) << text;
  EXPECT_EQ(text.find("skipped"), std::string::npos) << text;
  EXPECT_NE(text.find("\nOK"), std::string::npos) << text;
  for (const char* test : {"test_whole_episode_reference_answer_scores_one", "test_trl_calls_reset_tools_and_get_reward",
                           "test_tool_agent_loop_shares_one_episode_per_request", "test_init_step_close",
                           "test_reset_and_step_dicts", "test_get_reward_in_openrlhf_contract"})
    EXPECT_NE(text.find(std::string(test) + " "), std::string::npos) << test << " did not run:\n" << text;
}

TEST(PythonClients, OfflineTestsPassWithoutAServer) {
  std::string python = python_with_websockets();
  if (python.empty()) GTEST_SKIP() << "no python3 with websockets: run scripts/setup.sh (python3-websockets)";
  CliTempDir dir;
  std::string src = std::string(ENVFORGE_SOURCE_DIR) + "/clients/python";
  std::string out = dir.file("unittest.txt");
  std::string cmd = "cd '" + src + "' && env -u ENVFORGE_TEST_URL PYTHONDONTWRITEBYTECODE=1 " + python +
                    " -m unittest -v tests.test_actions >'" + out + "' 2>&1";
  int status = std::system(cmd.c_str());
  std::string text = slurp_file(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  EXPECT_NE(text.find("\nOK"), std::string::npos) << text;
}

}  // namespace
}  // namespace envforge::clients_testing
