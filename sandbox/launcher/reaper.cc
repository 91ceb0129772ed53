#include "sandbox/launcher/reaper.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace envforge::sandbox::launcher {
namespace {

std::int64_t timeval_us(const timeval& tv) { return tv.tv_sec * 1'000'000LL + tv.tv_usec; }

std::int64_t reaped_children_us() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime);
}

// Reads a small /proc file whole; empty when the process is gone.
std::string read_small(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The value (kB) of a "Key:   N kB" line of a /proc status-like file; 0 when absent.
std::int64_t kb_field(const std::string& text, const char* key) {
  auto pos = text.find(key);
  if (pos == std::string::npos) return 0;
  return std::atoll(text.c_str() + pos + std::strlen(key));
}

struct ProcCpu {
  std::int64_t own_us = 0;     // the process's own threads
  std::int64_t reaped_us = 0;  // children it waited for (cutime + cstime)
  unsigned long long start = 0;
};

struct Sample {
  std::int64_t cpu_us = 0;
  std::int64_t memory_kb = 0;  // only when memory is polled
};

// What every process of the box uses, one by one (no cgroup to ask). /proc is the
// box's own, so it lists only the box's processes.
//
// CPU: each live process's own time plus the time of the children it reaped, plus what
// the reaper itself reaped. A child whose parent ignores SIGCHLD is reaped by the
// kernel and its time is added nowhere: each sample compares what vanished with what
// the survivors' counters gained, and keeps the difference (a lower bound of the loss).
class BoxAccount {
 public:
  Sample sample(bool with_memory, const char* tmpfs_dir) {
    static const long ticks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
    std::map<pid_t, ProcCpu> now;
    Sample s;
    DIR* d = opendir("/proc");
    if (!d) return s;
    char path[64];
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 1 || *end != 0) continue;
      std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
      std::string stat = read_small(path);
      auto paren = stat.rfind(')');
      if (paren == std::string::npos) continue;
      unsigned long utime = 0, stime = 0;
      long cutime = 0, cstime = 0;
      unsigned long long start = 0;
      if (std::sscanf(stat.c_str() + paren + 1,
                      " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld %*d %*d %*d %*d %llu", &utime,
                      &stime, &cutime, &cstime, &start) != 5)
        continue;
      ProcCpu p;
      p.start = start;
      p.reaped_us = (cutime + cstime) * 1'000'000LL / ticks;
      clockid_t clock;
      timespec ts;
      if (clock_getcpuclockid(static_cast<pid_t>(pid), &clock) == 0 && clock_gettime(clock, &ts) == 0)
        p.own_us = ts.tv_sec * 1'000'000LL + ts.tv_nsec / 1000;
      else
        p.own_us = static_cast<std::int64_t>(utime + stime) * 1'000'000LL / ticks;
      now[static_cast<pid_t>(pid)] = p;
      if (with_memory) {
        std::snprintf(path, sizeof path, "/proc/%ld/status", pid);
        std::string status = read_small(path);
        s.memory_kb += kb_field(status, "RssAnon:") + kb_field(status, "RssShmem:");
      }
    }
    closedir(d);
    const std::int64_t reaper_now = reaped_children_us();
    std::int64_t vanished = 0, gained = reaper_now - reaper_prev_;
    for (const auto& [pid, before] : prev_) {
      auto it = now.find(pid);
      if (it == now.end() || it->second.start != before.start) {
        vanished += before.own_us + before.reaped_us;
      } else {
        gained += it->second.reaped_us - before.reaped_us;
      }
    }
    lost_us_ += std::max<std::int64_t>(0, vanished - gained);
    prev_ = std::move(now);
    reaper_prev_ = reaper_now;
    s.cpu_us = reaper_now + lost_us_;
    for (const auto& [pid, p] : prev_) s.cpu_us += p.own_us + p.reaped_us;
    if (with_memory) s.memory_kb += tmpfs_used_kb(tmpfs_dir);
    return s;
  }

  // Resident memory shared by several processes (copy-on-write pages after fork, shared
  // mappings) counts once per process in the quick sum; this one splits it between
  // them (proportional set size). A process that hides it counts in full.
  std::int64_t precise_memory_kb(const char* tmpfs_dir) const {
    std::int64_t total = tmpfs_used_kb(tmpfs_dir);
    char path[64];
    for (const auto& [pid, p] : prev_) {
      std::snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
      std::string rollup = read_small(path);
      if (rollup.find("Pss_Anon:") != std::string::npos) {
        total += kb_field(rollup, "Pss_Anon:") + kb_field(rollup, "Pss_Shmem:");
        continue;
      }
      std::snprintf(path, sizeof path, "/proc/%d/status", pid);
      std::string status = read_small(path);
      total += kb_field(status, "RssAnon:") + kb_field(status, "RssShmem:");
    }
    return total;
  }

  std::int64_t lost_us() const { return lost_us_; }

 private:
  static std::int64_t tmpfs_used_kb(const char* dir) {
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) return 0;
    return static_cast<std::int64_t>((sv.f_blocks - sv.f_bfree) * sv.f_frsize / 1024);
  }

  std::map<pid_t, ProcCpu> prev_;
  std::int64_t reaper_prev_ = 0;
  std::int64_t lost_us_ = 0;
};

}  // namespace

std::int64_t read_cgroup_cpu_us(int fd, bool v2) {
  char buf[1024];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (!v2) return std::atoll(buf) / 1000;
  const char* p = std::strstr(buf, "usage_usec ");
  return p ? std::atoll(p + 11) : -1;
}

StatusRecord reap_box(const ReapPlan& plan) {
  StatusRecord rec;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  const std::int64_t limit_us = plan.cpu_limit_ms * 1000;
  const int cpus = std::max(1, plan.cpus);
  const bool cgroup_cpu = plan.cpu_cgroup_fd >= 0;
  const bool poll_memory = plan.memory_limit_kb > 0;
  // Counting process by process misses what lives and dies between two looks: look
  // often then. A cgroup counter misses nothing.
  const std::int64_t max_wait_us = cgroup_cpu && !poll_memory ? 1'000'000 : 50'000;
  BoxAccount account;
  std::int64_t last_cpu_us = 0;  // what the last look saw (the limit, when it ended the box)
  bool payload_done = false, killed = false, first = true;
  while (!payload_done) {
    for (;;) {
      int st = 0;
      pid_t p = waitpid(-1, &st, killed ? 0 : WNOHANG);
      if (p < 0 && errno == EINTR) continue;
      if (p <= 0) break;
      if (p == plan.payload) {
        rec.wait_status = st;
        payload_done = true;
        break;
      }
    }
    if (payload_done || killed) continue;
    // The payload has only just been started: nothing to count yet.
    Sample s;
    if (!first) {
      if (!cgroup_cpu || poll_memory) s = account.sample(poll_memory, plan.tmpfs_dir);
      if (cgroup_cpu) s.cpu_us = std::max<std::int64_t>(0, read_cgroup_cpu_us(plan.cpu_cgroup_fd, plan.cpu_cgroup_v2) - plan.cpu_base_us);
    }
    first = false;
    last_cpu_us = std::max(last_cpu_us, s.cpu_us);
    if (s.cpu_us >= limit_us) {
      rec.flags |= StatusRecord::kCpuLimit;
      kill(-1, SIGKILL);
      killed = true;
      continue;
    }
    if (poll_memory && s.memory_kb > plan.memory_limit_kb) {
      const std::int64_t precise = account.precise_memory_kb(plan.tmpfs_dir);
      if (precise > plan.memory_limit_kb) {
        rec.flags |= StatusRecord::kMemoryLimit;
        rec.box_memory_kb = precise;
        kill(-1, SIGKILL);
        killed = true;
        continue;
      }
    }
    // CPU time grows at most `cpus` times as fast as the wall clock: sleeping this long
    // cannot overshoot the limit by more than a tick.
    const std::int64_t wait_us = std::clamp<std::int64_t>((limit_us - s.cpu_us) / cpus, 1000, max_wait_us);
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
  // Every process of the box, reaped by whom it may be.
  rec.box_cpu_us = std::max(rec.utime_us + rec.stime_us + account.lost_us(), last_cpu_us);
  if (cgroup_cpu) {
    const std::int64_t cg = read_cgroup_cpu_us(plan.cpu_cgroup_fd, plan.cpu_cgroup_v2);
    if (cg >= 0) rec.box_cpu_us = std::max(cg - plan.cpu_base_us, last_cpu_us);
  }
  return rec;
}

}  // namespace envforge::sandbox::launcher
