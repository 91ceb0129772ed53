#include "sandbox/box_handle.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace envforge::sandbox {

BoxHandle::BoxHandle(std::shared_ptr<LauncherClient> launcher, LaunchedBox box)
    : launcher_(std::move(launcher)), box_(std::move(box)) {
  for (int fd : {box_.stdin_w.get(), box_.stdout_r.get(), box_.stderr_r.get(), box_.status_r.get()})
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

BoxHandle::~BoxHandle() {
  try {
    release();
  } catch (...) {
    // The launcher is gone; the box died with it.
  }
}

void BoxHandle::kill() {
  if (box_.pidfd) syscall(SYS_pidfd_send_signal, box_.pidfd.get(), SIGKILL, nullptr, 0);
}

wire::ReleaseReply BoxHandle::release() {
  if (released_) return {};
  released_ = true;
  kill();
  box_.stdin_w.reset();
  return launcher_->release(box_.id);
}

bool BoxHandle::poll_status(std::optional<StatusRecord>& rec) {
  char buf[sizeof(StatusRecord)];
  for (;;) {
    ssize_t n = read(box_.status_r.get(), buf, sizeof buf);
    if (n > 0) {
      status_buf_.append(buf, static_cast<std::size_t>(n));
      if (status_buf_.size() >= sizeof(StatusRecord)) {
        StatusRecord r;
        std::memcpy(&r, status_buf_.data(), sizeof r);
        if (r.magic == StatusRecord::kMagic) {
          r.message[sizeof r.message - 1] = 0;
          rec = r;
        }
        return true;
      }
      continue;
    }
    if (n == 0) return true;  // the reaper died without a word
    if (errno == EINTR) continue;
    return false;  // EAGAIN: nothing yet
  }
}

bool read_capped(int fd, std::string& buf, std::size_t cap, bool& truncated) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0) {
      std::size_t room = cap > buf.size() ? cap - buf.size() : 0;
      std::size_t take = std::min(room, static_cast<std::size_t>(n));
      buf.append(chunk, take);
      if (take < static_cast<std::size_t>(n)) {
        truncated = true;
        return true;
      }
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return true;
  }
}

wire::LaunchRequest to_launch_request(const Spec& spec) {
  wire::LaunchRequest r;
  r.argv = spec.argv;
  r.env = spec.env;
  r.files = spec.files;
  r.binds = spec.ro_binds;
  // The box resolves bind sources in its own mount namespace, where /tmp is already
  // covered by the box tmpfs (reached through a saved descriptor): give it paths
  // without symbolic links.
  for (auto& b : r.binds) {
    if (char* real = realpath(b.host_path.c_str(), nullptr)) {
      b.host_path = real;
      std::free(real);
    }
  }
  r.limits = spec.limits;
  r.network = spec.network;
  return r;
}

namespace {

// The usual last words of a program whose allocation was refused (Python, C++, C, Go, Rust...).
bool reports_refused_allocation(std::string_view err) {
  if (err.size() > 2048) err = err.substr(err.size() - 2048);
  for (std::string_view marker : {"MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory",
                                  "Out of memory", "memory allocation of", "numpy.core._exceptions._ArrayMemoryError"}) {
    if (err.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

void decide_verdict(const VerdictInputs& in, Result& out) {
  const Limits& l = *in.limits;
  out.limits_mode = in.modes;
  const StatusRecord* rec = in.record;
  if (rec) {
    out.cpu_ms = std::max(rec->utime_us + rec->stime_us, rec->box_cpu_us) / 1000;
    out.peak_kb = rec->maxrss_kb;
  }
  // The cgroup's count covers a box killed before it could report (wall or output limit).
  if (in.usage.cpu_us >= 0) out.cpu_ms = std::max(out.cpu_ms, in.usage.cpu_us / 1000);
  if (in.usage.peak_kb >= 0) out.peak_kb = in.usage.peak_kb;
  out.decided_by = DecidedBy::kSandbox;
  if (rec && rec->kind == BoxEnd::kSetupError) {
    out.verdict = Verdict::kSandboxError;
    out.message = std::string("box setup failed: ") + rec->message;
    return;
  }
  if (rec && rec->kind == BoxEnd::kExecError) {
    // A program that cannot be executed (missing, no execute permission, not a format
    // the kernel runs, an interpreter line naming nothing) is the program's failure,
    // reported the way a shell does (127 not found, 126 not executable).
    switch (rec->error) {
      case ENOENT: case ENOTDIR: case ELOOP: case ENAMETOOLONG:
        out.exit_code = 127;
        break;
      case EACCES: case EPERM: case ENOEXEC: case EISDIR: case ETXTBSY: case ELIBBAD: case EINVAL:
        out.exit_code = 126;
        break;
      case ENOMEM:
        out.verdict = Verdict::kMemoryLimit;
        out.decided_by = DecidedBy::kExecFailure;
        out.message = std::string(rec->message) + " (within the memory limit of " + std::to_string(l.memory_mb) + " MiB)";
        return;
      default:
        out.verdict = Verdict::kSandboxError;
        out.message = rec->message;
        return;
    }
    out.verdict = Verdict::kRuntimeError;
    out.decided_by = DecidedBy::kExecFailure;
    out.message = rec->message;
    return;
  }
  if (rec) {
    int st = rec->wait_status;
    if (WIFEXITED(st)) out.exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) out.signal = WTERMSIG(st);
  }
  const bool failed = !rec || out.exit_code != 0;
  const std::int64_t mem_limit_kb = l.memory_mb * 1024;
  auto decide = [&](Verdict v, DecidedBy by, std::string message) {
    out.verdict = v;
    out.decided_by = by;
    out.message = std::move(message);
  };
  const std::string cpu_text = "CPU time limit of " + std::to_string(l.cpu_ms) + " ms exceeded";
  if (in.host_kill == HostKill::kWall) {
    decide(Verdict::kTimeLimit, DecidedBy::kWallClock, "wall time limit of " + std::to_string(l.wall_ms) + " ms exceeded");
  } else if (in.host_kill == HostKill::kOutput) {
    decide(Verdict::kOutputLimit, DecidedBy::kOutputCap,
           "output limit exceeded (stdout " + std::to_string(l.stdout_bytes) + " / stderr " +
               std::to_string(l.stderr_bytes) + " bytes)");
  } else if (in.usage.oom_kills > 0) {
    // Whichever process the OOM killer chose (the payload, a child the payload survived,
    // or the box's PID 1 when the tmpfs filled the cgroup), the box exceeded its limit.
    decide(Verdict::kMemoryLimit, DecidedBy::kCgroupOomKill,
           "memory limit of " + std::to_string(l.memory_mb) + " MiB exceeded (memory cgroup OOM kill)");
  } else if (!rec) {
    decide(Verdict::kSandboxError, DecidedBy::kSandbox, "the box's init process died without reporting");
  } else if (rec->flags & StatusRecord::kCpuLimit) {
    decide(Verdict::kTimeLimit, DecidedBy::kReaperCpuClock,
           cpu_text + " (measured by the box's reaper over all its processes)");
  } else if (rec->flags & StatusRecord::kMemoryLimit) {
    decide(Verdict::kMemoryLimit, DecidedBy::kReaperMemorySum,
           "memory limit of " + std::to_string(l.memory_mb) + " MiB exceeded: the box's processes and tmpfs held " +
               std::to_string(rec->box_memory_kb / 1024) + " MiB together (measured by the box's reaper; no memory cgroup)");
  } else if (out.signal == SIGSYS) {
    decide(Verdict::kKilledByPolicy, DecidedBy::kSeccomp, "killed by the seccomp policy (a forbidden system call)");
  } else if (out.signal == SIGXCPU || (out.signal == SIGKILL && out.cpu_ms >= l.cpu_ms)) {
    decide(Verdict::kTimeLimit, DecidedBy::kCpuRlimit, cpu_text + " (RLIMIT_CPU)");
  } else if (out.signal == SIGXFSZ) {
    decide(Verdict::kOutputLimit, DecidedBy::kFileSizeRlimit,
           "file size limit of " + std::to_string(l.file_size_mb) + " MiB exceeded (RLIMIT_FSIZE)");
  } else if (failed && in.modes.memory == ControlMode::kRlimit && out.peak_kb * 4 >= mem_limit_kb * 3) {
    // Under rlimits, allocations fail at the address-space limit and nothing reports
    // it: a failed run whose largest process came that close is taken for one. Said
    // plainly, since it is an inference and not a measurement.
    decide(Verdict::kMemoryLimit, DecidedBy::kAddressSpaceRlimit,
           "memory limit of " + std::to_string(l.memory_mb) +
               " MiB presumed reached: no memory cgroup on this host, the run failed and its largest "
               "process peaked at " + std::to_string(out.peak_kb / 1024) +
               " MiB RSS under an address-space rlimit of the same size");
  } else if (failed && reports_refused_allocation(in.stderr_data)) {
    // An allocation larger than the limit is refused at once (the address-space rlimit,
    // or the kernel's overcommit check) before a cgroup sees any of it: nothing but the
    // program's own last words tell. Said plainly, since it is an inference.
    decide(Verdict::kMemoryLimit, DecidedBy::kAllocationRefused,
           "memory limit of " + std::to_string(l.memory_mb) +
               " MiB presumed reached: the run failed and its error output ends with a refused allocation");
  } else if (out.cpu_ms > l.cpu_ms) {
    decide(Verdict::kTimeLimit, DecidedBy::kCpuUsage, cpu_text + " (CPU time reported after the run)");
  } else if (out.exit_code == 0) {
    decide(Verdict::kOk, DecidedBy::kExitStatus, "");
  } else {
    decide(Verdict::kRuntimeError, DecidedBy::kExitStatus,
           out.signal ? std::string("killed by signal ") + std::to_string(out.signal) + " (" + strsignal(out.signal) + ")"
                      : "exited with status " + std::to_string(out.exit_code));
  }
  // Refused forks are not a verdict of their own (the program decides what to make of
  // them) but explain many failures.
  if (failed && in.usage.pids_denied > 0 && out.verdict != Verdict::kSandboxError)
    out.message += (out.message.empty() ? "" : "; ") + std::to_string(in.usage.pids_denied) +
                   " fork(s) refused at the process limit of " + std::to_string(l.max_pids) + " (pids cgroup)";
}

}  // namespace envforge::sandbox
