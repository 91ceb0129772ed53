// search_bench: sandbox-verified search tasks per minute (synthetic worlds; the machine's
// package records), the time split by stage, and search tool calls per second inside one
// sandbox session. Baselines in the same run: the same pipeline where every Python call starts
// a fresh sandboxed interpreter (run_python_once), and tool calls through fresh interpreters.
//
//   search_bench [--count N] [--jobs J] [--baseline-count M] [--tool-calls K]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/corpus.h"
#include "generators/sandbox_python.h"
#include "generators/search/embedded.h"
#include "generators/search/synthetic_world.h"
#include "generators/search/world_db.h"
#include "generators/synth_job.h"
#include "sandbox/sandbox.h"

namespace {

using namespace envforge;
using Clock = std::chrono::steady_clock;

class OneShotSearchPython : public generators::PythonExecutor {
 public:
  OneShotSearchPython(std::vector<verifiers::PythonFile> files, std::string world) {
    options_.files = std::move(files);
    options_.world_db = std::move(world);
  }
  verifiers::PythonResult call(std::string_view module, std::string_view function,
                               const nlohmann::json& args) override {
    return verifiers::run_python_once(options_, module, function, args, std::chrono::seconds(20));
  }
  std::string world_path() const override { return std::string(verifiers::kWorldDbPath); }

 private:
  verifiers::PythonOptions options_;
};

class OneShotSearchFactory : public generators::PythonExecutorFactory {
 public:
  std::unique_ptr<generators::PythonExecutor> open(const std::vector<verifiers::PythonFile>& files,
                                                   const std::string& world) override {
    return std::make_unique<OneShotSearchPython>(files, world);
  }
  std::string name() const override { return "sandbox"; }
};

struct Figures {
  generators::SynthSummary s;
  double per_min = 0;
};

Figures measure(generators::PythonExecutorFactory& python, uint64_t count, int jobs, uint64_t seed,
                const std::string& dir, const nlohmann::json& options) {
  const std::string path = dir + "/bench-" + std::to_string(seed) + ".db";
  std::filesystem::remove(path);
  auto corpus = data::Corpus::open(path);
  generators::SynthOptions o;
  o.category = "search";
  o.category_options = options;
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
  std::printf("%s: %llu environments, %llu tasks (%llu verified usable), %llu sandbox verdicts (%.1f%% as expected)\n",
              label, static_cast<unsigned long long>(f.s.environments), static_cast<unsigned long long>(f.s.tasks),
              static_cast<unsigned long long>(f.s.usable), static_cast<unsigned long long>(f.s.validations),
              100.0 * f.s.validation_pass_rate());
  std::printf("  wall %.2f s -> %.0f verified tasks/min\n", f.s.wall_s, f.per_min);
  std::printf("  stage time (summed over workers):");
  for (const auto& [stage, ms] : t.stages())
    std::printf(" %s %.0f ms (%.0f%%)", stage.c_str(), ms, total > 0 ? 100.0 * ms / total : 0.0);
  std::printf("\n");
  for (size_t i = 0; i < f.s.errors.size() && i < 3; ++i) std::printf("  error: %s\n", f.s.errors[i].c_str());
}

// Tool calls per second: search, open and find in turn, `calls` of them.
double tool_calls_per_s(generators::PythonExecutorFactory& python, const std::string& db, int calls) {
  auto py = python.open({{"tools.py", std::string(generators::search::tools_py())}}, db);
  const auto first = py->call("tools", "search", {{"query", "founded"}, {"k", 5}});
  if (!first.ok || first.value["hits"].empty()) {
    std::fprintf(stderr, "search_bench: the tools do not answer: %s\n", first.message.c_str());
    return 0;
  }
  const std::string id = first.value["hits"][0]["id"];
  const char* words[] = {"born", "founded", "published", "headquartered", "population", "festival", "press"};
  const auto t0 = Clock::now();
  int failed = 0;
  for (int i = 0; i < calls; ++i) {
    verifiers::PythonResult r;
    switch (i % 3) {
      case 0: r = py->call("tools", "search", {{"query", std::string(words[i % 7]) + " city"}, {"k", 5}}); break;
      case 1: r = py->call("tools", "open", {{"doc_id", id}, {"offset", 0}}); break;
      default: r = py->call("tools", "find", {{"doc_id", id}, {"pattern", words[i % 7]}}); break;
    }
    failed += !r.ok;
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failed) std::printf("  %d call(s) failed\n", failed);
  return calls / s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t count = 20, baseline_count = 2;
  int jobs = 2, tool_calls = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--count")) count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--baseline-count")) baseline_count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--tool-calls")) tool_calls = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: search_bench [--count N] [--jobs J] [--baseline-count M] [--tool-calls K]\n");
      return 2;
    }
  }
  sandbox::Sandbox::shared();
  std::string tmpl = (std::filesystem::temp_directory_path() / "search-bench-XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                        std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                        std::filesystem::perms::others_exec);
  std::printf("search_bench: %d worker(s), target >= 600 verified tasks/min (synthetic)\n", jobs);
  auto warm = generators::sandbox_python_factory();
  const Figures w = measure(*warm, count, jobs, 1, dir, nlohmann::json::object());
  print("synthetic worlds, warm session per environment", w);
  const Figures p = measure(*warm, std::max<uint64_t>(1, count / 4), jobs, 3, dir, {{"search-world", "packages"}});
  print("package records (/var/lib/dpkg/status), warm session", p);
  OneShotSearchFactory once;
  if (baseline_count > 0) {
    const Figures b = measure(once, baseline_count, jobs, 2, dir, nlohmann::json::object());
    print("baseline: synthetic, fresh sandboxed Python per call", b);
    if (b.per_min > 0) std::printf("speed-up of the warm session: %.1fx\n", w.per_min / b.per_min);
  }

  const std::string db = dir + "/tools.db";
  {
    std::ofstream out(db, std::ios::binary);
    const std::string bytes = generators::search::world_db_bytes(generators::search::synthetic_world(1));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const double session = tool_calls_per_s(*warm, db, tool_calls);
  const double fresh = tool_calls_per_s(once, db, std::max(3, tool_calls / 50));
  std::printf("tool calls (search/open/find) in one sandbox session: %.0f calls/s\n", session);
  std::printf("baseline: a fresh sandboxed interpreter per call: %.1f calls/s -> %.0fx\n", fresh,
              fresh > 0 ? session / fresh : 0.0);
  std::filesystem::remove_all(dir);
  return 0;
}
