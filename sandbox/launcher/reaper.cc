#include "sandbox/launcher/reaper.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace envforge::sandbox::launcher {
namespace {

std::int64_t timeval_us(const timeval& tv) { return tv.tv_sec * 1'000'000LL + tv.tv_usec; }

// CPU time of every process of the box, in µs: the reaped ones (our child rusage) plus
// each live one through its process CPU clock (all its threads, ns resolution). /proc
// is the box's own, so it lists only the box's processes.
std::int64_t box_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  std::int64_t total = timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime);
  DIR* d = opendir("/proc");
  if (!d) return total;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 1 || *end != 0) continue;
    clockid_t clock;
    timespec ts;
    if (clock_getcpuclockid(static_cast<pid_t>(pid), &clock) == 0 && clock_gettime(clock, &ts) == 0)
      total += ts.tv_sec * 1'000'000LL + ts.tv_nsec / 1000;
  }
  closedir(d);
  return total;
}

}  // namespace

StatusRecord reap_box(pid_t payload, std::int64_t cpu_limit_ms, int cpus) {
  StatusRecord rec;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  const std::int64_t limit_us = cpu_limit_ms * 1000;
  cpus = std::max(1, cpus);
  bool payload_done = false, killed = false, first = true;
  while (!payload_done) {
    for (;;) {
      int st = 0;
      pid_t p = waitpid(-1, &st, killed ? 0 : WNOHANG);
      if (p < 0 && errno == EINTR) continue;
      if (p <= 0) break;
      if (p == payload) {
        rec.wait_status = st;
        payload_done = true;
        break;
      }
    }
    if (payload_done || killed) continue;
    // The payload has only just been started: nothing to count yet.
    const std::int64_t used = first ? 0 : box_cpu_us();
    first = false;
    if (used >= limit_us) {
      rec.flags |= StatusRecord::kCpuLimit;
      kill(-1, SIGKILL);
      killed = true;
      continue;
    }
    // CPU time grows at most `cpus` times as fast as the wall clock: sleeping this long
    // cannot overshoot the limit by more than a tick.
    const std::int64_t wait_us = std::clamp<std::int64_t>((limit_us - used) / cpus, 1000, 1'000'000);
    timespec ts{static_cast<time_t>(wait_us / 1'000'000), static_cast<long>(wait_us % 1'000'000) * 1000};
    sigtimedwait(&chld, nullptr, &ts);
  }
  // The payload is gone: the run is over for everything it left behind (daemons too).
  kill(-1, SIGKILL);
  while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  rec.utime_us = timeval_us(ru.ru_utime);
  rec.stime_us = timeval_us(ru.ru_stime);
  rec.maxrss_kb = ru.ru_maxrss;
  return rec;
}

}  // namespace envforge::sandbox::launcher
