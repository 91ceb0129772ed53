#include "sandbox/launcher_client.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "sandbox/cgroup_probe.h"

namespace envforge::sandbox {
namespace bp = boost::process;

struct LauncherClient::Process {
  bp::child child;
  UniqueFd sock;
};

std::string find_launcher(const std::string& configured) {
  constexpr const char* kName = "envforge-sandbox-launcher";
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("ENVFORGE_SANDBOX_LAUNCHER"); env && *env) return env;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    std::string dir(self);
    dir = dir.substr(0, dir.rfind('/'));
    std::string candidate = dir + "/" + kName;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
#ifdef ENVFORGE_SANDBOX_LAUNCHER_BUILD_PATH
  return ENVFORGE_SANDBOX_LAUNCHER_BUILD_PATH;
#else
  return kName;
#endif
}

LauncherClient::LauncherClient(const SandboxOptions& options) : options_(options) {
  path_ = find_launcher(options.launcher_path);
  if (access(path_.c_str(), X_OK) != 0)
    throw std::runtime_error("sandbox: launcher '" + path_ + "' is not executable: " + std::strerror(errno) +
                             " (set ENVFORGE_SANDBOX_LAUNCHER)");
  std::lock_guard lock(mu_);
  spawn();
}

LauncherClient::~LauncherClient() {
  std::lock_guard lock(mu_);
  if (!proc_) return;
  // EOF on its socket makes the launcher kill its boxes and exit.
  proc_->sock.reset();
  for (int i = 0; i < 300 && proc_->child.running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::error_code ec;
  if (proc_->child.running(ec)) proc_->child.terminate(ec);
  proc_->child.wait(ec);
}

void LauncherClient::spawn() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("sandbox: socketpair: ") + std::strerror(errno));
  UniqueFd host_end(sv[0]), child_end(sv[1]);
  const int uid = options_.run_as_uid, gid = options_.run_as_gid;
  std::vector<std::string> args;
  if (!options_.use_cgroups) args.push_back("--no-cgroups");
  auto proc = std::make_unique<Process>();
  const int fd = child_end.get();
  // Boost.Process spawns; the two steps it has no words for (handing our socket over as
  // fd 3, and dropping to another uid) run in its exec-setup hook, async-signal-safe.
  auto setup = [fd, uid, gid](auto&) {
    if (fd == 3) {
      fcntl(3, F_SETFD, 0);
    } else if (dup2(fd, 3) != 3) {
      _exit(120);
    }
    if (gid >= 0 && (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0)) _exit(121);
    if (uid >= 0 && setresuid(uid, uid, uid) != 0) _exit(122);
    // A process group of its own: a terminal's Ctrl-C goes to the host, whose exit
    // (EOF on the socket) makes the launcher end its boxes and remove their cgroups.
    setpgid(0, 0);
  };
  try {
    proc->child = bp::child(bp::exe = path_, bp::args = args, bp::extend::on_exec_setup = setup);
  } catch (const std::exception& e) {
    throw std::runtime_error("sandbox: cannot start launcher '" + path_ + "': " + e.what());
  }
  child_end.reset();
  proc->sock = std::move(host_end);
  wire::MsgType type;
  std::string payload;
  std::vector<int> fds;
  bool got = false;
  try {
    got = wire::recv_frame(proc->sock.get(), type, payload, fds);
  } catch (const std::exception& e) {
    payload = e.what();
  }
  for (int f : fds) close(f);
  if (!got || type != wire::MsgType::kProbed) {
    std::error_code ec;
    proc->child.wait(ec);
    std::string why = got ? payload : "it exited with status " + std::to_string(proc->child.exit_code());
    throw std::runtime_error("sandbox: launcher '" + path_ + "' failed to start: " + why);
  }
  proc_ = std::move(proc);
  // Learn what this host gives us (modes are fixed for the launcher's life).
  std::string reply;
  request(wire::MsgType::kProbe, "", wire::MsgType::kProbed, reply, fds);
  wire::Reader rd(reply);
  for (const auto& kv : rd.strs()) {
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "rootless") rootless_ = v == "yes";
    if (k == "memory_mode") modes_.memory = static_cast<ControlMode>(std::stoi(v));
    if (k == "pids_mode") modes_.pids = static_cast<ControlMode>(std::stoi(v));
  }
}

void LauncherClient::request(wire::MsgType type, const std::string& payload, wire::MsgType want,
                             std::string& reply, std::vector<int>& fds) {
  if (!proc_) throw std::runtime_error("sandbox: launcher is not running");
  try {
    wire::send_frame(proc_->sock.get(), type, payload);
    wire::MsgType got;
    if (!wire::recv_frame(proc_->sock.get(), got, reply, fds)) throw wire::ProtocolError("launcher closed its socket");
    if (got == wire::MsgType::kError) throw LaunchError(reply);
    if (got != want) throw wire::ProtocolError("unexpected reply type");
  } catch (const wire::ProtocolError& e) {
    // The launcher is gone or confused; its boxes died with it. Start a fresh one for
    // the next request.
    bury();
    throw std::runtime_error(std::string("sandbox: launcher failed: ") + e.what());
  }
}

void LauncherClient::bury() {
  const int pid = static_cast<int>(proc_->child.id());
  std::error_code ec;
  proc_->sock.reset();  // a launcher still alive exits on EOF
  proc_->child.wait(ec);
  proc_.reset();
  // Its boxes died with it (parent-death signal); a launcher that was killed could not
  // remove their cgroups.
  if (!options_.use_cgroups) return;
  CgroupProbe p = probe_cgroups();
  for (const auto* c : {&p.memory, &p.pids, &p.cpu})
    if (c->mode != ControlMode::kRlimit) remove_launcher_cgroups(c->dir, pid);
}

LaunchedBox LauncherClient::launch(const wire::LaunchRequest& request_data) {
  std::string payload = wire::encode(request_data);
  std::string reply;
  std::vector<int> fds;
  std::lock_guard lock(mu_);
  if (!proc_) spawn();
  try {
    request(wire::MsgType::kLaunch, payload, wire::MsgType::kLaunched, reply, fds);
  } catch (...) {
    for (int f : fds) close(f);
    throw;
  }
  if (fds.size() != wire::kBoxFdCount) {
    for (int f : fds) close(f);
    throw std::runtime_error("sandbox: launcher sent " + std::to_string(fds.size()) + " descriptors");
  }
  wire::LaunchReply r = wire::decode_launched(reply);
  LaunchedBox box;
  box.id = r.box_id;
  box.pid = r.pid;
  box.pidfd.reset(fds[0]);
  box.stdin_w.reset(fds[1]);
  box.stdout_r.reset(fds[2]);
  box.stderr_r.reset(fds[3]);
  box.status_r.reset(fds[4]);
  box.modes.memory = static_cast<ControlMode>(r.memory_mode);
  box.modes.pids = static_cast<ControlMode>(r.pids_mode);
  return box;
}

wire::ReleaseReply LauncherClient::release(std::uint64_t box_id) {
  wire::Writer w;
  w.u64(box_id);
  std::string reply;
  std::vector<int> fds;
  std::lock_guard lock(mu_);
  if (!proc_) return {};  // the launcher died: the box died with it
  if (modes_.memory == ControlMode::kRlimit && modes_.pids == ControlMode::kRlimit) {
    // One message less per run; the launcher handles requests in order, so the box is
    // released before anything sent after this.
    try {
      wire::send_frame(proc_->sock.get(), wire::MsgType::kReleaseQuiet, w.bytes());
    } catch (const wire::ProtocolError&) {
      bury();
    }
    return {};
  }
  request(wire::MsgType::kRelease, w.bytes(), wire::MsgType::kReleased, reply, fds);
  for (int f : fds) close(f);
  return wire::decode_released(reply);
}

std::map<std::string, std::string> LauncherClient::probe() {
  std::string reply;
  std::vector<int> fds;
  std::lock_guard lock(mu_);
  if (!proc_) spawn();
  request(wire::MsgType::kProbe, "", wire::MsgType::kProbed, reply, fds);
  std::map<std::string, std::string> out;
  wire::Reader rd(reply);
  for (const auto& kv : rd.strs()) {
    auto eq = kv.find('=');
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

int LauncherClient::pid() const {
  std::lock_guard lock(mu_);
  return proc_ ? static_cast<int>(proc_->child.id()) : 0;
}

}  // namespace envforge::sandbox
