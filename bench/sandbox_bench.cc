// sandbox_bench: launch latency and throughput of boxes against bare processes and
// bubblewrap with comparable isolation, plus Python session round-trips.
//
//   sandbox_bench [--quick] [--no-cgroups] [--rootless] [--box-only N]
// Prints, per case, launches/s and the median latency; ratios are against bubblewrap
// measured in the same run. --no-cgroups: limits by rlimits only; --rootless: the
// launcher runs as uid/gid 65534 (needs root); --box-only N: only N isolated /bin/true
// launches (for profilers). SANDBOX_BENCH_BWRAP names another bubblewrap binary.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"
#include "verifiers/python_runner.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace sb = envforge::sandbox;
namespace vf = envforge::verifiers;

struct Stats {
  double per_second = 0;
  double median_ms = 0;
};

template <class F>
Stats measure(const char* what, int n, F&& once) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(n));
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto a = Clock::now();
    if (!once()) {
      std::fprintf(stderr, "sandbox_bench: a run of '%s' failed\n", what);
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  double total = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(ms.begin(), ms.end());
  return {n / total, ms[ms.size() / 2]};
}

bool spawn_wait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// bubblewrap with the isolation our boxes have (namespaces, fresh root of read-only
// binds, tmpfs work dir and /tmp, new /proc and minimal /dev, non-root uid, no caps).
// It has no seccomp filter and no cgroup set-up: it does less than we do.
std::string bwrap_path() {
  const char* env = std::getenv("SANDBOX_BENCH_BWRAP");
  return env && *env ? env : "/usr/bin/bwrap";
}

std::vector<std::string> bwrap(std::vector<std::string> cmd) {
  std::vector<std::string> a = {bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session",
                                "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                                "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                                "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc/ld.so.cache",
                                "/etc/ld.so.cache", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                                "--tmpfs", "/work", "--chdir", "/work", "--uid", "1000", "--gid", "1000",
                                "--cap-drop", "ALL", "--hostname", "box"};
  a.insert(a.end(), cmd.begin(), cmd.end());
  return a;
}

bool checked(const sb::Result& r) {
  if (!r.ok()) std::fprintf(stderr, "sandbox_bench: %s: %s %s\n", std::string(sb::verdict_name(r.verdict)).c_str(),
                            r.message.c_str(), r.stderr_data.substr(0, 500).c_str());
  return r.ok();
}

void row(const char* name, Stats s, double baseline_ms) {
  std::printf("%-34s %10.0f /s   median %7.3f ms", name, s.per_second, s.median_ms);
  if (baseline_ms > 0) std::printf("   %5.2fx faster than bubblewrap", baseline_ms / s.median_ms);
  std::printf("\n");
}

}  // namespace

std::string loadavg() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  char buf[64] = {};
  if (f) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  return s.substr(0, s.find(' ', s.find(' ', s.find(' ') + 1) + 1));
}

int main(int argc, char** argv) {
  bool quick = false;
  int box_only = 0;
  sb::SandboxOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--no-cgroups") {
      options.use_cgroups = false;
    } else if (a == "--rootless") {
      options.run_as_uid = options.run_as_gid = 65534;
    } else if (a == "--box-only" && i + 1 < argc) {
      box_only = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: sandbox_bench [--quick] [--no-cgroups] [--rootless] [--box-only N]\n");
      return 2;
    }
  }
  const int n_true = quick ? 100 : 500, n_py = quick ? 20 : 60, n_calls = quick ? 2000 : 20000;
  sb::Sandbox sandbox(options);  // spawned first, while this process is small
  std::printf("sandbox_bench: memory limits by %s, pids by %s%s\n",
              std::string(sb::control_mode_name(sandbox.limit_modes().memory)).c_str(),
              std::string(sb::control_mode_name(sandbox.limit_modes().pids)).c_str(),
              sandbox.rootless() ? " (rootless)" : "");
  std::printf("load average at start: %s (%u CPUs); figures are medians, ratios from this run\n", loadavg().c_str(),
              std::thread::hardware_concurrency());

  sb::Spec t;
  t.argv = {"/bin/true"};
  sb::Spec py;
  py.argv = {"/usr/bin/python3", "-c", "pass"};

  if (box_only > 0) {
    Stats s = measure("box /bin/true", box_only, [&] { return checked(sandbox.run(t)); });
    row("envforge box /bin/true", s, 0);
    return 0;
  }
  Stats bare_true = measure("bare /bin/true", n_true, [] { return spawn_wait({"/bin/true"}); });
  Stats bw_true = measure("bubblewrap /bin/true", n_true, [] { return spawn_wait(bwrap({"/bin/true"})); });
  Stats our_true = measure("box /bin/true", n_true, [&] { return checked(sandbox.run(t)); });
  Stats bare_py = measure("bare python3", n_py, [] { return spawn_wait({"/usr/bin/python3", "-c", "pass"}); });
  Stats bw_py = measure("bubblewrap python3", n_py, [] { return spawn_wait(bwrap({"/usr/bin/python3", "-c", "pass"})); });
  Stats our_py = measure("box python3", n_py, [&] { return checked(sandbox.run(py)); });

  std::printf("\nlaunches\n");
  row("bare /bin/true", bare_true, 0);
  row("bubblewrap /bin/true", bw_true, 0);
  row("envforge box /bin/true", our_true, bw_true.median_ms);
  std::printf("%-34s %10s      box / bare median %.2fx\n", "", "", our_true.median_ms / bare_true.median_ms);
  row("bare python3 -c pass", bare_py, 0);
  row("bubblewrap python3 -c pass", bw_py, 0);
  row("envforge box python3 -c pass", our_py, bw_py.median_ms);

  vf::PythonOptions o;
  o.files = {{"tools.py", "def ping(x):\n    return x\n"}};
  std::printf("\nPython session calls (trivial tool)\n");
  for (bool isolate : {false, true}) {
    o.isolate_calls = isolate;
    int calls = isolate ? n_calls / 10 : n_calls;
    for (int threads : {1, 2}) {
      std::vector<std::unique_ptr<vf::PythonSession>> sessions;
      for (int i = 0; i < threads; ++i) sessions.push_back(std::make_unique<vf::PythonSession>(o, sandbox));
      auto t0 = Clock::now();
      std::vector<std::thread> pool;
      for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
          for (int c = 0; c < calls / threads; ++c) {
            auto r = sessions[static_cast<std::size_t>(i)]->call("tools", "ping", {{"x", c}},
                                                                  std::chrono::seconds(10));
            if (!r.ok) {
              std::fprintf(stderr, "sandbox_bench: call failed: %s\n", r.message.c_str());
              std::exit(1);
            }
          }
        });
      }
      for (auto& th : pool) th.join();
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("%-34s %10.0f calls/s   %7.3f ms per call\n",
                  (std::string(isolate ? "isolated" : "shared") + ", " + std::to_string(threads) +
                   (threads == 1 ? " session" : " sessions")).c_str(),
                  calls / s, s * 1000.0 * threads / calls);
    }
  }
  std::printf("\nload average at end: %s\n", loadavg().c_str());
  return 0;
}
