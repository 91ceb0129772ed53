// envforge-sandbox-launcher: the small single-threaded process that clones boxes.
//
// The host spawns it once (sandbox/launcher_client.cc) and talks to it over a socket on
// fd 3 (see sandbox/wire.h). It is deliberately tiny and single-threaded: cloning from
// it costs a fraction of cloning from the large multithreaded host, and a plain fork-like
// clone3 from a single-threaded process is safe. Its ends: EOF on the socket (the host
// is gone) kills every box it made; if it dies, each box dies with it (PDEATHSIG).
//
// The launch path is kept short: after each launch a spare box for the same network
// mode is cloned (namespaces, uid/gid maps, slot cgroups, the request-independent root),
// so the next launch only hands its request to a waiting box; per-slot cgroups and
// network namespaces are reused; a released box is torn down while the host goes on.
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <string>
#include <vector>

#include "sandbox/launcher/box_cgroups.h"
#include "sandbox/launcher/box_init.h"
#include "sandbox/launcher/seccomp_policy.h"
#include "sandbox/spec_check.h"
#include "sandbox/wire.h"

namespace envforge::sandbox::launcher {
namespace {

constexpr int kControlFd = 3;
// Host uid/gid of box slot N when the launcher runs as root: unused ids, one per slot.
constexpr unsigned kHostIdBase = 2'000'000'000u;

// A cloned box. Spare: built up to its request, waiting. Running: handed to the host.
// Dying: killed, its slot is free once the pidfd says it is gone.
struct Box {
  int pidfd = -1;
  pid_t pid = 0;
  unsigned slot = 0;
  Network network = Network::kNone;
  bool host_view = false;               // for requests with read-only binds (box_init.h)
  int request_w = -1;                   // the box's go-ahead/request pipe
  int host_fds[4] = {-1, -1, -1, -1};   // stdin (write), stdout, stderr, status (read)
  CgroupMark mark;
};

struct Slot {
  bool busy = false;
  BoxCgroup cgroup;
};

struct Fail : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool write_proc(pid_t pid, const char* file, const std::string& text) {
  std::string path = pid ? "/proc/" + std::to_string(pid) + "/" + file : std::string("/proc/self/") + file;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

int pidfd_kill(int pidfd) { return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0)); }

void wait_gone(int pidfd, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
  }
}

bool is_gone(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Writes all of `data` to a pipe whose reader is a box; false when the box is gone or
// does not read within `timeout_ms`.
bool write_to_box(int fd, const std::string& data, int timeout_ms) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t w = write(fd, data.data() + off, data.size() - off);
    if (w > 0) {
      off += static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// Rootless: a user namespace of our own gives the capabilities to build boxes (and to
// own the recycled network namespaces) without any host privilege. The launcher then
// executes itself again, so that its memory (and every box's, cloned from it) belongs to
// that namespace: the host, which owns the namespace, may then reach a box's files
// through /proc/<pid>/root to collect them, although a box's PID 1 is not dumpable.
void enter_own_user_namespace(unsigned outer_uid, unsigned outer_gid) {
  if (unshare(CLONE_NEWUSER) != 0) throw Fail(errno_text("rootless: unshare(CLONE_NEWUSER)"));
  if (!write_proc(0, "setgroups", "deny") || !write_proc(0, "uid_map", "0 " + std::to_string(outer_uid) + " 1") ||
      !write_proc(0, "gid_map", "0 " + std::to_string(outer_gid) + " 1"))
    throw Fail(errno_text("rootless: writing our own uid/gid map"));
  // A network namespace of our own to return to after entering a slot's.
  if (unshare(CLONE_NEWNET) != 0) throw Fail(errno_text("rootless: unshare(CLONE_NEWNET)"));
}

class Launcher {
 public:
  // `rootless`: started without host root, already in a user namespace of its own
  // (enter_own_user_namespace) as `outer_uid`/`outer_gid` of the host.
  Launcher(bool use_cgroups, bool rootless, unsigned outer_uid, unsigned outer_gid) {
    rootless_ = rootless;
    outer_uid_ = outer_uid;
    outer_gid_ = outer_gid;
    cpus_ = usable_cpus();
    cgroups_.init(use_cgroups, static_cast<int>(outer_uid));
    home_netns_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_netns_ < 0) throw Fail(errno_text("open own network namespace"));
    // Boxes poll it once their parent-death signal is armed, to catch a launcher that
    // died before (box_init.cc).
    self_pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (self_pidfd_ < 0) throw Fail(errno_text("pidfd_open of the launcher"));
    seccomp_[0] = build_seccomp_programs(Network::kNone);
    seccomp_[1] = build_seccomp_programs(Network::kLoopback);
  }

  ~Launcher() {
    std::vector<Box*> all;
    for (auto& b : spares_) all.push_back(&b);
    for (auto& [id, b] : running_) all.push_back(&b);
    for (auto& b : dying_) all.push_back(&b);
    for (Box* b : all) pidfd_kill(b->pidfd);
    for (Box* b : all) {
      wait_gone(b->pidfd, 2000);
      discard_fds(*b);
      close_fd(b->pidfd);
    }
    for (auto& slot : slots_) cgroups_.remove(slot.cgroup);
  }

  void serve() {
    for (;;) {
      // The control socket, plus every box whose end we wait for (dying ones free
      // their slot; a spare that died is dropped).
      std::vector<pollfd> fds = {{kControlFd, POLLIN, 0}};
      for (auto& b : dying_) fds.push_back({b.pidfd, POLLIN, 0});
      for (auto& b : spares_) fds.push_back({b.pidfd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      collect_dead();
      if (!fds[0].revents) continue;
      wire::MsgType type;
      std::string payload;
      std::vector<int> received;
      if (!wire::recv_frame(kControlFd, type, payload, received)) return;  // host gone
      for (int fd : received) close(fd);
      try {
        switch (type) {
          case wire::MsgType::kLaunch: launch(payload); break;
          case wire::MsgType::kRelease: release(payload, true); break;
          case wire::MsgType::kReleaseQuiet:
            // Nothing may answer a quiet release: the host reads no reply to it.
            try {
              release(payload, false);
            } catch (const std::exception& e) {
              std::fprintf(stderr, "envforge-sandbox-launcher: %s\n", e.what());
            }
            break;
          case wire::MsgType::kProbe: probe(); break;
          default: throw Fail("unknown request type " + std::to_string(static_cast<unsigned>(type)));
        }
      } catch (const std::exception& e) {
        wire::send_frame(kControlFd, wire::MsgType::kError, e.what());
      }
    }
  }

 private:
  // Network namespaces are recycled per slot and mode: creating one per box costs more
  // than the rest of a launch, and tearing one down is slower still.
  int netns_for(Network net, unsigned slot) {
    auto& pool = netns_[net == Network::kLoopback ? 1 : 0];
    if (pool.size() <= slot) pool.resize(slot + 1, -1);
    if (pool[slot] >= 0) return pool[slot];
    if (unshare(CLONE_NEWNET) != 0) throw Fail(errno_text("unshare(CLONE_NEWNET)"));
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (net == Network::kLoopback) {
      int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "lo");
      bool up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
                (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
      if (s >= 0) close(s);
      if (!up) {
        setns(home_netns_, CLONE_NEWNET);
        if (fd >= 0) close(fd);
        throw Fail(errno_text("bring up loopback"));
      }
    }
    if (setns(home_netns_, CLONE_NEWNET) != 0) throw Fail(errno_text("return to own network namespace"));
    if (fd < 0) throw Fail(errno_text("open new network namespace"));
    pool[slot] = fd;
    return fd;
  }

  unsigned alloc_slot() {
    for (unsigned i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].busy) {
        slots_[i].busy = true;
        return i;
      }
    }
    slots_.emplace_back().busy = true;
    return static_cast<unsigned>(slots_.size() - 1);
  }

  void discard_fds(Box& b) {
    close_fd(b.request_w);
    for (int& fd : b.host_fds) close_fd(fd);
  }

  // Boxes whose pidfd reports them gone: dying ones free their slot, dead spares are
  // dropped (a fresh box is cloned for the next request).
  void collect_dead() {
    for (auto* list : {&dying_, &spares_}) {
      for (auto it = list->begin(); it != list->end();) {
        if (!is_gone(it->pidfd)) {
          ++it;
          continue;
        }
        discard_fds(*it);
        close_fd(it->pidfd);
        slots_[it->slot].busy = false;
        it = list->erase(it);
      }
    }
  }

  // Clones a box for `net`, with its maps written and cgroups joined; it builds the
  // request-independent part of its root and then waits for its request.
  Box spawn(Network net, bool host_view) {
    Box box;
    box.network = net;
    box.host_view = host_view;
    box.slot = alloc_slot();
    int pipes[5][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
    auto cleanup = [&] {
      for (auto& p : pipes)
        for (int fd : p)
          if (fd >= 0) close(fd);
      if (box.pidfd >= 0) {
        pidfd_kill(box.pidfd);
        wait_gone(box.pidfd, 2000);
        close(box.pidfd);
      }
      slots_[box.slot].busy = false;
    };
    try {
      std::string error;
      Slot& slot = slots_[box.slot];
      if (!cgroups_.ensure(box.slot, slot.cgroup, error)) throw Fail(error);
      for (auto& p : pipes)
        if (pipe2(p, O_CLOEXEC) != 0) throw Fail(errno_text("pipe"));
      int netns = netns_for(net, box.slot);
      if (setns(netns, CLONE_NEWNET) != 0) throw Fail(errno_text("enter slot network namespace"));

      clone_args args{};
      args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
      args.pidfd = reinterpret_cast<std::uint64_t>(&box.pidfd);
      args.exit_signal = SIGCHLD;
      long pid = syscall(SYS_clone3, &args, sizeof args);
      if (pid == 0) child(net, host_view, pipes, slot.cgroup.cpu_fd);
      int clone_errno = errno;
      if (setns(home_netns_, CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "envforge-sandbox-launcher: cannot return to own network namespace: %s\n",
                     std::strerror(errno));
        std::_Exit(70);  // every later box would share a slot namespace; stop instead
      }
      if (pid < 0) {
        errno = clone_errno;
        throw Fail(errno_text("clone3 of a new box"));
      }
      box.pid = static_cast<pid_t>(pid);
      // Child ends: stdin read, stdout/stderr/status write, sync read.
      for (int fd : {pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1], pipes[4][0]}) close(fd);
      pipes[0][0] = pipes[1][1] = pipes[2][1] = pipes[3][1] = pipes[4][0] = -1;

      // One write per map file (each may be written once).
      unsigned host_uid = rootless_ ? 0 : kHostIdBase + box.slot;
      unsigned host_gid = rootless_ ? 0 : kHostIdBase + box.slot;
      if (!write_proc(box.pid, "setgroups", "deny") ||
          !write_proc(box.pid, "uid_map", std::to_string(kBoxUid) + " " + std::to_string(host_uid) + " 1") ||
          !write_proc(box.pid, "gid_map", std::to_string(kBoxUid) + " " + std::to_string(host_gid) + " 1"))
        throw Fail(errno_text("writing the box uid/gid map"));
      if (!cgroups_.join(slot.cgroup, box.pid, error)) throw Fail(error);
      if (write(pipes[4][1], "G", 1) != 1) throw Fail(errno_text("starting the box"));
      box.request_w = pipes[4][1];
      box.host_fds[0] = pipes[0][1];
      box.host_fds[1] = pipes[1][0];
      box.host_fds[2] = pipes[2][0];
      box.host_fds[3] = pipes[3][0];
      return box;
    } catch (...) {
      cleanup();
      throw;
    }
  }

  // A spare of this kind that is still alive, or a fresh box.
  Box take_box(Network net, bool host_view) {
    for (auto it = spares_.begin(); it != spares_.end(); ++it) {
      if (it->network != net || it->host_view != host_view) continue;
      Box b = *it;
      spares_.erase(it);
      if (!is_gone(b.pidfd)) return b;
      discard_fds(b);
      close_fd(b.pidfd);
      slots_[b.slot].busy = false;
      break;
    }
    return spawn(net, host_view);
  }

  void launch(const std::string& payload) {
    wire::LaunchRequest req = wire::decode_launch(payload);
    std::string bad = check_spec(req.argv, req.env, req.files, req.binds, req.limits);
    if (!bad.empty()) throw Fail(bad);
    const bool host_view = !req.binds.empty();
    Box box = take_box(req.network, host_view);
    try {
      std::string error;
      if (!cgroups_.arm(slots_[box.slot].cgroup, req.limits, box.mark, error)) throw Fail(error);
      // A box that died before reading its request reports why on its status pipe.
      std::string frame = box_request_frame(payload);
      if (frame.size() > 65536) fcntl(box.request_w, F_SETPIPE_SZ, 1 << 20);
      fcntl(box.request_w, F_SETFL, O_NONBLOCK);
      if (!write_to_box(box.request_w, frame, 10'000) && errno != EPIPE) pidfd_kill(box.pidfd);
      close_fd(box.request_w);
    } catch (...) {
      pidfd_kill(box.pidfd);
      discard_fds(box);
      dying_.push_back(box);
      throw;
    }
    const std::uint64_t id = ++seq_;
    wire::LaunchReply reply;
    reply.box_id = id;
    reply.pid = box.pid;
    reply.memory_mode = static_cast<std::uint32_t>(cgroups_.memory_mode());
    reply.pids_mode = static_cast<std::uint32_t>(cgroups_.pids_mode());
    wire::send_frame(kControlFd, wire::MsgType::kLaunched, wire::encode(reply),
                     {box.pidfd, box.host_fds[0], box.host_fds[1], box.host_fds[2], box.host_fds[3]});
    discard_fds(box);
    running_[id] = box;
    // The next request of this kind finds its box half-built.
    bool have_spare = false;
    for (const auto& b : spares_) have_spare |= b.network == req.network && b.host_view == host_view;
    if (!have_spare) {
      try {
        spares_.push_back(spawn(req.network, host_view));
      } catch (const std::exception&) {
        // No spare now; the next launch clones its box and reports what fails.
      }
    }
  }

  [[noreturn]] void child(Network net, bool host_view, int pipes[5][2], int cpu_fd) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Arrange 0..6 from sources that may themselves sit on 0..6: lift them first.
    const bool cpu_counter = cpu_fd >= 0;
    int src[7] = {pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1], pipes[4][0], self_pidfd_, cpu_fd};
    const int n = cpu_counter ? 7 : 6;
    for (int i = 0; i < n; ++i) src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 16);
    for (int i = 0; i < n; ++i)
      if (src[i] < 0 || dup2(src[i], i) != i) _exit(126);
    syscall(SYS_close_range, static_cast<unsigned>(n), ~0u, 0u);
    BoxPlan plan;
    if (cpu_counter) plan.cpu_cgroup = cgroups_.cpu_mode();
    plan.seccomp = &seccomp_[net == Network::kLoopback ? 1 : 0];
    plan.memory_by_rlimit = cgroups_.memory_mode() == ControlMode::kRlimit;
    plan.cpus = cpus_;
    plan.host_view = host_view;
    box_main(plan);
  }

  // Reads the box's usage, kills it and answers at once: the box's teardown (its
  // namespaces and mounts) runs while the host goes on; its slot is reused once the
  // pidfd says it is gone.
  void release(const std::string& payload, bool answer) {
    wire::Reader rd(payload);
    std::uint64_t id = rd.u64();
    auto it = running_.find(id);
    if (it == running_.end()) throw Fail("release of unknown box " + std::to_string(id));
    Box box = it->second;
    running_.erase(it);
    pidfd_kill(box.pidfd);
    dying_.push_back(box);
    if (!answer) return;
    CgroupUsage u = cgroups_.usage(slots_[box.slot].cgroup, box.mark);
    wire::ReleaseReply reply;
    reply.peak_kb = u.peak_kb;
    reply.oom_kills = u.oom_kills;
    reply.pids_denied = u.pids_denied;
    reply.cpu_us = u.cpu_us;
    wire::send_frame(kControlFd, wire::MsgType::kReleased, wire::encode(reply));
  }

  void probe() {
    const CgroupProbe& p = cgroups_.probe();
    std::vector<std::string> kv = {
        "rootless=" + std::string(rootless_ ? "yes" : "no"),
        "host_uid=" + std::to_string(outer_uid_),
        "memory_mode=" + std::to_string(static_cast<int>(cgroups_.memory_mode())),
        "memory_reason=" + p.memory.reason,
        "pids_mode=" + std::to_string(static_cast<int>(cgroups_.pids_mode())),
        "pids_reason=" + p.pids.reason,
        "seccomp_instructions=" + std::to_string(seccomp_[0].early.size() + seccomp_[0].late.size()),
        "cpu_mode=" + std::to_string(static_cast<int>(cgroups_.cpu_mode())),
        "cpu_reason=" + p.cpu.reason,
    };
    wire::Writer w;
    w.strs(kv);
    wire::send_frame(kControlFd, wire::MsgType::kProbed, w.bytes());
  }

  bool rootless_ = false;
  unsigned outer_uid_ = 0, outer_gid_ = 0;
  int cpus_ = 1;
  BoxCgroups cgroups_;
  int home_netns_ = -1;
  int self_pidfd_ = -1;
  SeccompPrograms seccomp_[2];
  std::vector<int> netns_[2];
  std::vector<Slot> slots_;
  std::list<Box> spares_;
  std::map<std::uint64_t, Box> running_;
  std::list<Box> dying_;
  std::uint64_t seq_ = 0;
};

}  // namespace
}  // namespace envforge::sandbox::launcher

int main(int argc, char** argv) {
  bool use_cgroups = true;
  bool in_own_userns = false;
  unsigned outer_uid = geteuid(), outer_gid = getegid();
  constexpr const char* kInOwnUserns = "--in-own-userns=";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-cgroups") == 0) use_cgroups = false;
    if (std::strncmp(argv[i], kInOwnUserns, std::strlen(kInOwnUserns)) == 0) {
      in_own_userns = std::sscanf(argv[i] + std::strlen(kInOwnUserns), "%u:%u", &outer_uid, &outer_gid) == 2;
    }
  }
  // Nothing of the host's environment reaches a box (the box's PID 1 inherits ours).
  clearenv();
  signal(SIGPIPE, SIG_IGN);
  // Boxes are reaped by the kernel; their end is observed through pidfds.
  signal(SIGCHLD, SIG_IGN);
  if (fcntl(3, F_GETFD) < 0) {
    std::fprintf(stderr, "envforge-sandbox-launcher: no control socket on fd 3 (started by hand?)\n");
    return 2;
  }
  const bool rootless = in_own_userns || geteuid() != 0;
  if (rootless && !in_own_userns) {
    std::string why;
    try {
      envforge::sandbox::launcher::enter_own_user_namespace(outer_uid, outer_gid);
      fcntl(3, F_SETFD, 0);
      std::string flag = std::string(kInOwnUserns) + std::to_string(outer_uid) + ":" + std::to_string(outer_gid);
      std::vector<char*> args = {argv[0]};
      if (!use_cgroups) args.push_back(const_cast<char*>("--no-cgroups"));
      args.push_back(flag.data());
      args.push_back(nullptr);
      execv("/proc/self/exe", args.data());
      why = std::string("envforge-sandbox-launcher: rootless: re-executing itself: ") + std::strerror(errno);
    } catch (const std::exception& e) {
      why = std::string("envforge-sandbox-launcher: ") + e.what();
    }
    try {
      envforge::sandbox::wire::send_frame(3, envforge::sandbox::wire::MsgType::kError, why);
    } catch (...) {
    }
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  }
  fcntl(3, F_SETFD, FD_CLOEXEC);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(devnull, 0);
  dup2(devnull, 1);
  if (devnull > 3) close(devnull);
  syscall(SYS_close_range, 4u, ~0u, 0u);
  try {
    envforge::sandbox::launcher::Launcher launcher(use_cgroups, rootless, outer_uid, outer_gid);
    envforge::sandbox::wire::send_frame(3, envforge::sandbox::wire::MsgType::kProbed, "ready");
    launcher.serve();
  } catch (const std::exception& e) {
    std::string msg = std::string("envforge-sandbox-launcher: ") + e.what();
    try {
      envforge::sandbox::wire::send_frame(3, envforge::sandbox::wire::MsgType::kError, msg);
    } catch (...) {
    }
    std::fprintf(stderr, "%s\n", msg.c_str());
    return 1;
  }
  return 0;
}
