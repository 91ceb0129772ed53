// merge_bench: `envforge merge` throughput on a generated corpus of a million
// tasks written as N shards (the output of an N-task array job).
//
// Prints the merge rate (tasks/s, whole merge: input checks, copy, final
// checkpoint), the rate of a second merge of the same shards (idempotent: all
// present), and, as the baseline measured in the same run, the rate at which
// the same tasks are written through Corpus::record_work_items.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "data/corpus.h"
#include "data/corpus_merge.h"
#include "tests/data/sample_items.h"

namespace data = envforge::data;
using BenchClock = std::chrono::steady_clock;

namespace {

// CPU time of the process: on a shared, busy machine it shows the cost of the work itself.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double since(BenchClock::time_point t) {
  return std::chrono::duration<double>(BenchClock::now() - t).count();
}

std::string load() {
  double l1 = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l1) != 1) l1 = -1;
    std::fclose(f);
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "load average %.2f on %ld CPUs", l1, sysconf(_SC_NPROCESSORS_ONLN));
  return buf;
}

double write_cpu = 0;  // CPU seconds of writing the shards, building the items included

// Items [from, to) into `path` by one run of shard `index`; returns the seconds spent in the Corpus.
double write_shard(const std::string& path, uint64_t from, uint64_t to, int index, int count,
                   const data::sample::Shape& shape) {
  double seconds = 0;
  double cpu0 = cpu_seconds();
  auto t = BenchClock::now();
  auto corpus = data::Corpus::open(path);
  data::RunRecord run;
  run.command = "synth";
  run.host = "bench";
  run.shard_index = index;
  run.shard_count = count;
  std::string run_id = corpus.begin_run(run);
  seconds += since(t);
  std::vector<data::WorkItem> batch;
  for (uint64_t i = from; i < to; ++i) {
    batch.push_back(data::sample::make_work_item(i, shape));
    batch.back().run_id = run_id;
    if (batch.size() == 512 || i + 1 == to) {
      t = BenchClock::now();
      corpus.record_work_items(batch);
      seconds += since(t);
      batch.clear();
    }
  }
  t = BenchClock::now();
  corpus.end_run(run_id, 0, {});
  { auto closing = std::move(corpus); }
  seconds += since(t);
  write_cpu += cpu_seconds() - cpu0;
  return seconds;
}

void remove_corpus(const std::string& p) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("merge_bench", "envforge merge throughput on a generated sharded corpus.");
  options.add_options()
      ("tasks", "tasks in all shards together", cxxopts::value<int64_t>()->default_value("1000000"))
      ("shards", "shard corpora", cxxopts::value<int64_t>()->default_value("4"))
      ("validations", "validations per task", cxxopts::value<int64_t>()->default_value("12"))
      ("skip-integrity-check", "merge without PRAGMA quick_check of the inputs",
       cxxopts::value<bool>()->default_value("false"))
      ("dir", "directory for the corpus files", cxxopts::value<std::string>()->default_value("/tmp"))
      ("once", "skip the second (idempotent) merge", cxxopts::value<bool>()->default_value("false"))
      ("keep", "keep the shards (and reuse kept ones of the same shape)", cxxopts::value<bool>()->default_value("false"))
      ("h,help", "print this help");
  cxxopts::ParseResult flags;
  try {
    flags = options.parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "merge_bench: %s\n", e.what());
    return 2;
  }
  if (flags.count("help")) {
    std::printf("%s", options.help().c_str());
    return 0;
  }
  data::sample::Shape shape;
  shape.validations_per_task = static_cast<int>(flags["validations"].as<int64_t>());
  const int64_t tasks = flags["tasks"].as<int64_t>();
  const int shards = static_cast<int>(std::max<int64_t>(1, flags["shards"].as<int64_t>()));
  const uint64_t items = static_cast<uint64_t>((tasks + shape.tasks_per_item - 1) / shape.tasks_per_item);
  const std::string dir = flags["dir"].as<std::string>();
  const bool keep = flags["keep"].as<bool>();
  const std::string tag = std::to_string(items) + "x" + std::to_string(shape.validations_per_task) + "_" +
                          std::to_string(shards);
  const std::string prefix = dir + "/merge_bench_" + tag + (keep ? "" : "_" + std::to_string(getpid()));
  const std::string out = dir + "/merge_bench_out_" + std::to_string(getpid()) + ".db";

  std::printf("merge_bench: %llu work items x %d tasks x %d validations in %d shard(s); %s\n",
              static_cast<unsigned long long>(items), shape.tasks_per_item, shape.validations_per_task,
              shards, load().c_str());
  std::vector<std::string> paths;
  double write_s = 0;
  bool wrote = false;
  for (int s = 0; s < shards; ++s) {
    paths.push_back(prefix + "_shard" + std::to_string(s) + ".db");
    uint64_t from = items * static_cast<uint64_t>(s) / static_cast<uint64_t>(shards);
    uint64_t to = items * static_cast<uint64_t>(s + 1) / static_cast<uint64_t>(shards);
    if (keep && std::filesystem::exists(paths.back()) && !std::filesystem::exists(paths.back() + "-wal")) continue;
    remove_corpus(paths.back());
    write_s += write_shard(paths.back(), from, to, s, shards, shape);
    wrote = true;
  }
  const double total_tasks = static_cast<double>(items) * shape.tasks_per_item;
  if (wrote)
    std::printf("  baseline, writing the shards through Corpus::record_work_items (batches of 512): "
                "%.1f s, %.0f tasks/s; %.0f tasks per CPU-second (building the items included)\n",
                write_s, total_tasks / write_s, total_tasks / write_cpu);
  uintmax_t bytes = 0;
  for (const auto& p : paths) bytes += std::filesystem::file_size(p);
  std::printf("  shards: %.0f MB together\n", static_cast<double>(bytes) / 1e6);

  data::MergeOptions mo;
  mo.check_integrity = !flags["skip-integrity-check"].as<bool>();
  // CPU time at the start of each shard and of the index build: where the merge spends it.
  std::vector<double> marks;
  mo.on_shard = [&](const std::string&, size_t, size_t) { marks.push_back(cpu_seconds()); };
  mo.before_indexes = [&] { marks.push_back(cpu_seconds()); };
  remove_corpus(out);
  double cpu0 = cpu_seconds();
  auto t = BenchClock::now();
  data::MergeReport first = data::merge_corpora(out, paths, mo);
  double merge_s = since(t), merge_cpu = cpu_seconds() - cpu0;
  int64_t added = 0;
  for (const auto& s : first.shards) added += s.tasks_added;
  std::printf("  merge into a new corpus: %lld tasks in %.1f s (input checks %.1f s): %.0f tasks/s "
              "(target >= 100000), %.0f tasks per CPU-second\n",
              static_cast<long long>(added), merge_s, first.check_seconds, added / merge_s, added / merge_cpu);
  marks.push_back(cpu0 + merge_cpu);
  std::string phases;
  for (size_t i = 0; i < first.shards.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.2f s (%.2f CPU-s)", i ? ", " : "", first.shards[i].seconds,
                  i + 1 < marks.size() ? marks[i + 1] - marks[i] : 0.0);
    phases += buf;
  }
  std::printf("    input checks %.2f CPU-s; per shard: %s; building indexes and finishing %.2f s (%.2f CPU-s)\n",
              marks.empty() ? 0.0 : marks[0] - cpu0, phases.c_str(), first.index_seconds,
              marks.size() > first.shards.size() + 1 ? marks.back() - marks[first.shards.size()] : 0.0);
  // The floor for this machine, from this run: input checks as measured, and
  // every shard copied page by page at the rate the first shard's page copy
  // (no record decoded, no index touched) reached.
  if (mo.check_integrity && !first.shards.empty() && first.shards[0].seconds > 0) {
    double copy_rate = static_cast<double>(std::filesystem::file_size(paths[0])) / first.shards[0].seconds;
    double floor_s = first.check_seconds + static_cast<double>(bytes) / copy_rate;
    std::printf("    floor (input checks + every shard at the first shard's page-copy rate, %.0f MB/s): "
                "%.1f s, %.0f tasks/s; this merge at %.2fx the floor\n",
                copy_rate / 1e6, floor_s, added / floor_s, merge_s / floor_s);
  }
  marks.clear();
  mo.on_shard = nullptr;
  mo.before_indexes = nullptr;
  if (wrote) std::printf("  merge / baseline write: %.1fx\n", (added / merge_s) / (total_tasks / write_s));
  data::MergeReport again;
  if (!flags["once"].as<bool>()) {
    cpu0 = cpu_seconds();
    t = BenchClock::now();
    again = data::merge_corpora(out, paths, mo);
    double again_s = since(t), again_cpu = cpu_seconds() - cpu0;
    int64_t present = 0;
    for (const auto& s : again.shards) present += s.tasks_present;
    std::printf("  merge again (idempotent, every task present): %lld tasks in %.1f s: %.0f tasks/s, "
                "%.0f tasks per CPU-second\n", static_cast<long long>(present), again_s, present / again_s,
                present / again_cpu);
  }
  std::printf("  merged corpus: %.0f MB; conflicts %lld; %s\n",
              static_cast<double>(std::filesystem::file_size(out)) / 1e6,
              static_cast<long long>(first.conflict_count + again.conflict_count), load().c_str());
  remove_corpus(out);
  if (!keep)
    for (const auto& p : paths) remove_corpus(p);
  return first.conflict_count + again.conflict_count == 0 && added == static_cast<int64_t>(total_tasks) ? 0 : 1;
}
