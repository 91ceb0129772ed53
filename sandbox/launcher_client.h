// Host side of the launcher: spawns it (Boost.Process), sends launch/release requests,
// receives each box's pidfd and pipes. Thread-safe; requests are short and serialized.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "sandbox/result.h"
#include "sandbox/sandbox.h"
#include "sandbox/unique_fd.h"
#include "sandbox/wire.h"

namespace envforge::sandbox {

// A box as the host holds it.
struct LaunchedBox {
  std::uint64_t id = 0;
  pid_t pid = 0;  // host pid of the box's PID 1
  UniqueFd pidfd, stdin_w, stdout_r, stderr_r, status_r;
  LimitModes modes;
};

// The launcher refused or failed to build a box (the spec is bad, the host lacks a
// feature): a sandbox-error verdict, not a reason to restart anything.
struct LaunchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class LauncherClient {
 public:
  explicit LauncherClient(const SandboxOptions& options);
  ~LauncherClient();

  // Throws LaunchError for a refused box, std::runtime_error when the launcher is gone
  // and cannot be restarted.
  LaunchedBox launch(const wire::LaunchRequest& request);
  // Kills the box if it still runs and returns its cgroup usage. Without cgroups there
  // is no usage to read: the release is sent without waiting for an answer.
  wire::ReleaseReply release(std::uint64_t box_id);
  std::map<std::string, std::string> probe();

  int pid() const;
  bool rootless() const { return rootless_; }
  LimitModes modes() const { return modes_; }

 private:
  struct Process;
  void spawn();
  // After the launcher failed: reaps it and removes what it left behind.
  void bury();
  void request(wire::MsgType type, const std::string& payload, wire::MsgType want, std::string& reply,
               std::vector<int>& fds);
  SandboxOptions options_;
  std::string path_;
  mutable std::mutex mu_;
  std::unique_ptr<Process> proc_;
  bool rootless_ = false;
  LimitModes modes_;
};

// The launcher executable the host will use (see SandboxOptions::launcher_path).
std::string find_launcher(const std::string& configured);

}  // namespace envforge::sandbox
