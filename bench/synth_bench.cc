// synth_bench: sandbox-verified trip tasks per minute, with the time split by
// stage (world, solve, validate, record). Baseline in the same run: the same
// pipeline where every verifier call starts a fresh sandboxed Python
// (run_python_once) instead of going through one warm session per environment.
//
//   synth_bench [--count N] [--jobs J] [--baseline-count M]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "data/corpus.h"
#include "generators/sandbox_python.h"
#include "generators/synth_job.h"
#include "sandbox/sandbox.h"

namespace {

using namespace envforge;

// Every call in a fresh one-shot box: what validation costs without a warm session.
class OneShotPython : public generators::PythonExecutor {
 public:
  OneShotPython(std::vector<verifiers::PythonFile> files, std::string world) {
    options_.files = std::move(files);
    options_.world_db = std::move(world);
  }
  verifiers::PythonResult call(std::string_view module, std::string_view function,
                               const nlohmann::json& args) override {
    return verifiers::run_python_once(options_, module, function, args, std::chrono::seconds(10));
  }
  std::string world_path() const override { return std::string(verifiers::kWorldDbPath); }

 private:
  verifiers::PythonOptions options_;
};

class OneShotFactory : public generators::PythonExecutorFactory {
 public:
  std::unique_ptr<generators::PythonExecutor> open(const std::vector<verifiers::PythonFile>& files,
                                                   const std::string& world) override {
    return std::make_unique<OneShotPython>(files, world);
  }
  std::string name() const override { return "sandbox"; }
};

struct Figures {
  generators::SynthSummary s;
  double per_min = 0;
};

Figures measure(generators::PythonExecutorFactory& python, uint64_t count, int jobs, uint64_t seed,
                const std::string& dir) {
  const std::string path = dir + "/bench-" + std::to_string(seed) + ".db";
  std::filesystem::remove(path);
  auto corpus = data::Corpus::open(path);
  generators::SynthOptions o;
  o.count = count;
  o.seed = seed;
  o.jobs = jobs;
  o.scratch_dir = dir;
  Figures f;
  f.s = generators::run_synth(o, corpus, python);
  f.per_min = static_cast<double>(f.s.usable) / (f.s.wall_s / 60.0);
  return f;
}

void print(const char* label, const Figures& f) {
  const auto& t = f.s.times;
  const double total = t.total_ms();
  auto pct = [&](double v) { return total > 0 ? 100.0 * v / total : 0.0; };
  std::printf("%s: %llu environments, %llu tasks (%llu verified usable), %llu sandbox verdicts (%.1f%% as expected)\n",
              label, static_cast<unsigned long long>(f.s.environments), static_cast<unsigned long long>(f.s.tasks),
              static_cast<unsigned long long>(f.s.usable), static_cast<unsigned long long>(f.s.validations),
              100.0 * f.s.validation_pass_rate());
  std::printf("  wall %.2f s -> %.0f verified tasks/min\n", f.s.wall_s, f.per_min);
  std::printf("  stage time (summed over workers):");
  for (const auto& [stage, ms] : t.stages()) std::printf(" %s %.0f ms (%.0f%%)", stage.c_str(), ms, pct(ms));
  std::printf("\n");
  for (size_t i = 0; i < f.s.errors.size() && i < 3; ++i) std::printf("  error: %s\n", f.s.errors[i].c_str());
  if (f.s.validations > 0)
    std::printf("  validate per verifier call: %.2f ms\n", t.ms("validate") / static_cast<double>(f.s.validations));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t count = 12, baseline_count = 2;
  int jobs = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--count")) count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--baseline-count")) baseline_count = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: synth_bench [--count N] [--jobs J] [--baseline-count M]\n");
      return 2;
    }
  }
  sandbox::Sandbox::shared();
  std::string tmpl = (std::filesystem::temp_directory_path() / "synth-bench-XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  // The boxes read the world files from here as another user.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                        std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                        std::filesystem::perms::others_exec);
  std::printf("synth_bench: trip environments, %d worker(s), target >= 600 verified tasks/min\n", jobs);
  auto warm = generators::sandbox_python_factory();
  const Figures w = measure(*warm, count, jobs, 1, dir);
  print("warm session per environment", w);
  if (baseline_count > 0) {
    OneShotFactory once;
    const Figures b = measure(once, baseline_count, jobs, 2, dir);
    print("baseline: fresh sandboxed Python per call", b);
    if (b.per_min > 0) std::printf("speed-up of the warm session: %.1fx\n", w.per_min / b.per_min);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
