// code_bench: validated code tasks per minute from the standard library, and what the
// test runs behind each one cost. Every work item generates one task (bugs kept by two
// runs of the selected tests), builds its world and validates its verifier (the
// reference diff twice, every negative once) in the sandbox; items climb levels 1..5.
// Baselines in the same run: one test module run as a fresh `python3 -m unittest` box,
// against the same run as a fork of the warm interpreter (what the pipeline does).
// Other work on the machine shows in the load averages printed with the figures.
//
//   code_bench [--count N] [--jobs J]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "generators/code/work_item.h"
#include "generators/sandbox_python.h"
#include "sandbox/sandbox.h"

namespace {

using namespace envforge;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double loadavg() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One module's tests as a cold interpreter in a fresh box.
double cold_run_ms(const std::string& test_module) {
  sandbox::Spec spec;
  spec.argv = {"/usr/bin/python3", "-m", "unittest", "-q", test_module};
  spec.env = {"PYTHONDONTWRITEBYTECODE=1"};
  spec.limits.wall_ms = 120000;
  spec.limits.cpu_ms = 120000;
  const auto r = sandbox::Sandbox::shared().run(spec);
  return static_cast<double>(r.wall_ms);
}

// The same module as a fork of a warm interpreter, inside one box.
double warm_run_ms(const std::string& module, const std::string& test_module) {
  verifiers::PythonOptions o;
  o.files = {{"codebox.py", generators::code::verify_py()},
             {"probe.py", "import codebox\n"
                          "def probe(module, test_module):\n"
                          "    base = '/usr/lib/python3.11'\n"
                          "    src = open(base + '/' + module + '.py').read()\n"
                          "    return [codebox.run_tests({module + '.py': src}, base, [module], [test_module])['wall_ms']"
                          " for _ in range(5)]\n"}};
  o.isolate_calls = false;
  verifiers::PythonSession s(o);
  auto r = s.call("probe", "probe", {{"module", module}, {"test_module", test_module}}, std::chrono::seconds(300));
  if (!r.ok) return -1;
  std::vector<double> v;
  for (const auto& x : r.value) v.push_back(x.get<double>());
  return median(v);
}


struct RunFigures {
  int items = 0, tasks = 0, usable = 0, failed = 0;
  double wall_s = 0, gen_runs = 0, gen_run_ms = 0;
  std::map<std::string, std::pair<int, double>> checks;  // check -> (calls, wall ms)
  generators::StageTimes stages;
  std::vector<std::string> errors;
  double per_minute() const { return wall_s > 0 ? usable * 60.0 / wall_s : 0; }
};

// Work items [first, first + count) of one job on `jobs` threads.
RunFigures run_items(int first, int count, int jobs, generators::PythonExecutorFactory& python) {
  RunFigures f;
  f.items = count;
  std::atomic<int> next{first};
  std::mutex mu;
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j)
    threads.emplace_back([&] {
      for (int i; (i = next++) < first + count;) {
        generators::StageTimes times;
        generators::code::CodeOptions o;
        o.scratch_dir = std::filesystem::temp_directory_path().string();
        try {
          auto item = generators::code::build_work_item(2026, static_cast<uint64_t>(i), python, o, times);
          std::lock_guard lock(mu);
          f.stages += times;
          f.gen_run_ms += times.ms("selection runs");
          for (const auto& t : item.tasks) {
            ++f.tasks;
            f.usable += t.status == data::TaskStatus::kUsable;
            if (t.status != data::TaskStatus::kUsable)
              f.errors.push_back("item " + std::to_string(i) + " rejected: " + t.reject_reason);
            f.gen_runs += t.metadata["generation"].value("test_runs", 0.0);
            for (const auto& v : t.validations) {
              auto& c = f.checks[v.check];
              c.first += 1;
              c.second += static_cast<double>(v.wall_ms);
            }
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          ++f.failed;
          f.errors.push_back(e.what());
        }
      }
    });
  for (auto& t : threads) t.join();  // the threads' generator boxes end with them
  f.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 20, jobs = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--count")) count = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: code_bench [--count N] [--jobs J]\n");
      return 2;
    }
  }
  sandbox::Sandbox::shared();
  std::printf("code_bench: %d work items on %d threads, host load average %.1f at start, %u cores\n", count, jobs,
              loadavg(), std::thread::hardware_concurrency());

  std::vector<double> cold, warm;
  for (int i = 0; i < 3; ++i) cold.push_back(cold_run_ms("test.test_bisect"));
  warm.push_back(warm_run_ms("bisect", "test.test_bisect"));
  std::printf("one test module (test_bisect): cold box %.0f ms, warm fork %.0f ms (%.1fx)\n", median(cold),
              warm[0], warm[0] > 0 ? median(cold) / warm[0] : 0.0);

  auto python = generators::sandbox_python_factory({.call_timeout = std::chrono::seconds(120)});
  const RunFigures f = run_items(0, count, jobs, *python);
  std::printf("work items %d: tasks %d, validated (usable) %d, failed items %d, wall %.1f s, load average %.1f\n",
              f.items, f.tasks, f.usable, f.failed, f.wall_s, loadavg());
  std::printf("validated code tasks per minute: %.1f (on %d threads)\n", f.per_minute(), jobs);
  std::printf("stage ms (summed over threads): world+generate %.0f (of it clean-tree baselines %.0f), task %.0f, "
              "validate %.0f\n",
              f.stages.ms("world"), f.stages.ms("baseline"), f.stages.ms("solve"), f.stages.ms("validate"));
  if (f.tasks > 0) {
    int ver_calls = 0;
    double ver_ms = 0;
    for (const auto& [check, c] : f.checks) ver_calls += c.first, ver_ms += c.second;
    std::printf("test runs per task: %.1f for bug selection (mean %.0f ms each), %.1f verifier calls "
                "(mean %.0f ms each)\n",
                f.gen_runs / f.tasks, f.gen_runs > 0 ? f.gen_run_ms / f.gen_runs : 0.0,
                static_cast<double>(ver_calls) / f.tasks, ver_calls > 0 ? ver_ms / ver_calls : 0.0);
    std::printf("verifier calls by check (mean ms):");
    for (const auto& [check, c] : f.checks) std::printf(" %s %.0f", check.c_str(), c.second / c.first);
    std::printf("\ntest-run wall per validated task: %.2f s\n",
                f.usable > 0 ? (f.gen_run_ms + ver_ms) / 1000.0 / f.usable : 0.0);
  }
  for (size_t i = 0; i < f.errors.size() && i < 5; ++i) std::printf("error: %s\n", f.errors[i].substr(0, 300).c_str());

  return 0;
}
