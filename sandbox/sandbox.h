// The sandbox: runs untrusted programs in isolated boxes (user, PID, mount, network,
// IPC, UTS and cgroup namespaces; pivot_root into a fresh read-only root; seccomp;
// cgroup or rlimit limits). Boxes are cloned by a small single-threaded launcher process
// that the Sandbox spawns once, so the (large, multithreaded) host never forks per run.
//
//   auto& sb = envforge::sandbox::Sandbox::shared();   // or Sandbox sb({...});
//   Result r = sb.run(spec);
//   auto session = sb.open_session(spec);  session->call(R"({"x":1})", 1s);
#pragma once
#include <map>
#include <memory>
#include <string>

#include "sandbox/result.h"
#include "sandbox/session.h"
#include "sandbox/spec.h"

namespace envforge::sandbox {

struct SandboxOptions {
  // Path of the launcher executable; empty: next to the running executable, then the
  // build root (ENVFORGE_SANDBOX_LAUNCHER overrides both).
  std::string launcher_path;
  // Run the launcher as this host uid/gid (only when the host runs as root): it then
  // works rootless, through user namespaces. -1: the host's own ids.
  int run_as_uid = -1;
  int run_as_gid = -1;
  // Use cgroups when the host delegates them (false: rlimits only).
  bool use_cgroups = true;
};

class LauncherClient;

// Thread-safe: many threads may run boxes and open sessions at once.
class Sandbox {
 public:
  // Starts the launcher; throws std::runtime_error with a clear message when it cannot.
  explicit Sandbox(SandboxOptions options = {});
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // A process-wide sandbox with default options, started on first use. Call it early
  // (before the host grows) so the launcher is spawned from a small process.
  static Sandbox& shared();

  // Never throws for a bad spec or a hostile payload: those are verdicts.
  Result run(const Spec& spec);

  // Starts the box now; throws std::runtime_error when it cannot be started at all.
  std::unique_ptr<Session> open_session(const Spec& spec);

  // What the launcher found on this host (key=value: rootless, memory/pids modes and
  // why, cpu_mode and why, seccomp_instructions), for `envforge sandbox doctor`.
  std::map<std::string, std::string> probe();

  LimitModes limit_modes() const;
  int launcher_pid() const;   // for leak checks in tests
  bool rootless() const;      // the launcher runs without host root

 private:
  friend class SessionImpl;
  std::shared_ptr<LauncherClient> launcher_;
};

}  // namespace envforge::sandbox
