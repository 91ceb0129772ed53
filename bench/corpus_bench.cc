// corpus_bench: write and query throughput of the corpus on a large corpus.
//
// Writes whole work items (an environment with its task ladder and a dozen
// validations per task) in batched transactions, against a baseline of one
// transaction per work item measured in the same run, then times the audit
// summary, `envforge audit --json`, lookups and the export stream.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "data/content_id.h"
#include "data/corpus.h"
#include "tests/data/sample_items.h"

namespace data = envforge::data;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of the whole process (the corpus prepares batches on a second
// thread): on a shared, busy machine it shows the cost of the work itself,
// next to the wall-clock rate. Building the sample items is never inside it.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The machine's load: figures from a shared machine are only comparable with
// the load they were taken under.
std::string machine_load() {
  double l1 = 0, l5 = 0, l15 = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) != 3) l1 = l5 = l15 = -1;
    std::fclose(f);
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "load average %.2f %.2f %.2f on %ld CPUs", l1, l5, l15,
                sysconf(_SC_NPROCESSORS_ONLN));
  return buf;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct WriteFigures {
  int64_t items = 0;
  int64_t tasks = 0;
  int64_t rows = 0;   // environments + tasks + validations + work items
  double seconds = 0;  // wall time inside Corpus calls only
  double cpu_seconds = 0;         // whole process
  double writer_cpu_seconds = 0;  // the calling thread only
};

// CPU time of the calling thread: the writer's critical path, since the
// corpus prepares the next items of a batch on another thread.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Times one Corpus call (open, close: a close checkpoints the WAL) into `f`.
template <typename Fn>
void timed(WriteFigures& f, Fn&& fn) {
  auto t = Clock::now();
  double cpu = process_cpu_seconds();
  double writer = thread_cpu_seconds();
  fn();
  f.seconds += seconds_since(t);
  f.cpu_seconds += process_cpu_seconds() - cpu;
  f.writer_cpu_seconds += thread_cpu_seconds() - writer;
}

// Writes items [from, to) in batches into `f`; building the items is not timed.
void write_items(WriteFigures& f, data::Corpus& corpus, uint64_t from, uint64_t to, size_t batch,
                 const data::sample::Shape& shape) {
  std::vector<data::WorkItem> pending;
  auto flush = [&] {
    if (pending.empty()) return;
    timed(f, [&] {
      if (batch == 1)
        corpus.record_work_item(pending[0]);
      else
        corpus.record_work_items(pending);
    });
    pending.clear();
  };
  for (uint64_t i = from; i < to; ++i) {
    pending.push_back(data::sample::make_work_item(i, shape));
    f.items += 1;
    f.tasks += shape.tasks_per_item;
    f.rows += 2 + shape.tasks_per_item * (1 + shape.validations_per_task);
    if (pending.size() >= batch) flush();
  }
  flush();
}

void print_write(const char* name, const WriteFigures& f) {
  std::printf("  %-36s %6lld items %7lld tasks in %6.2f s: %7.0f tasks/s %8.0f rows/s"
              " (%.0f tasks per CPU-second)\n", name,
              static_cast<long long>(f.items), static_cast<long long>(f.tasks), f.seconds,
              f.tasks / f.seconds, f.rows / f.seconds, f.tasks / f.cpu_seconds);
}

template <typename Fn>
double median_ms(int reps, Fn&& fn) {
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t = Clock::now();
    fn();
    ms.push_back(seconds_since(t) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("corpus_bench", "Corpus write and query throughput.");
  options.add_options()
      ("tasks", "tasks in the big corpus", cxxopts::value<int64_t>()->default_value("100000"))
      ("batch", "work items per transaction", cxxopts::value<int64_t>()->default_value("512"))
      ("baseline-items", "work items written one transaction each", cxxopts::value<int64_t>()->default_value("1000"))
      ("dir", "directory for the corpus files", cxxopts::value<std::string>()->default_value("/tmp"))
      ("writes-only", "skip the query timings", cxxopts::value<bool>()->default_value("false"))
      ("keep", "keep the corpus files", cxxopts::value<bool>()->default_value("false"))
      ("h,help", "print this help");
  cxxopts::ParseResult flags;
  try {
    flags = options.parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corpus_bench: %s\n", e.what());
    return 2;
  }
  if (flags.count("help")) {
    std::printf("%s", options.help().c_str());
    return 0;
  }
  data::sample::Shape shape;  // 6 tasks per environment, 12 validations per task
  int64_t total_tasks = flags["tasks"].as<int64_t>();
  size_t batch = static_cast<size_t>(std::max<int64_t>(1, flags["batch"].as<int64_t>()));
  uint64_t items = static_cast<uint64_t>((total_tasks + shape.tasks_per_item - 1) / shape.tasks_per_item);
  uint64_t base_items = static_cast<uint64_t>(flags["baseline-items"].as<int64_t>());
  std::string dir = flags["dir"].as<std::string>();
  std::string big = dir + "/corpus_bench_" + std::to_string(getpid()) + ".db";
  std::string base = dir + "/corpus_bench_baseline_" + std::to_string(getpid()) + ".db";

  std::printf("corpus_bench: %llu work items x %d tasks x %d validations, %zu-byte world db each\n",
              static_cast<unsigned long long>(items), shape.tasks_per_item,
              shape.validations_per_task, shape.world_db_bytes);
  std::printf("machine: %s\n", machine_load().c_str());
  std::printf("\nwrites (whole work items, time inside Corpus calls: open, writes, close)\n");
  WriteFigures naive, batched, batched_same;
  {
    std::optional<data::Corpus> c;
    timed(naive, [&] { c.emplace(data::Corpus::open(base)); });
    write_items(naive, *c, 0, base_items, 1, shape);
    timed(naive, [&] { c.reset(); });
  }
  print_write("baseline: 1 transaction per item", naive);
  {
    std::optional<data::Corpus> c;
    timed(batched_same, [&] { c.emplace(data::Corpus::open(big)); });
    // The same items as the baseline first, for a like-for-like ratio.
    write_items(batched_same, *c, 0, base_items, batch, shape);
    write_items(batched, *c, base_items, items, batch, shape);
    // The last checkpoint of the WAL is part of writing the corpus.
    timed(batched, [&] { c.reset(); });
  }
  char label[64];
  std::snprintf(label, sizeof label, "batched: %zu items per transaction", batch);
  print_write(label, batched_same);
  print_write("batched, rest of the big corpus", batched);
  std::printf("  batched / baseline (same items): %.1fx\n",
              (batched_same.tasks / batched_same.seconds) / (naive.tasks / naive.seconds));
  double all_s = batched.seconds + batched_same.seconds;
  double all_cpu = batched.cpu_seconds + batched_same.cpu_seconds;
  double all_writer = batched.writer_cpu_seconds + batched_same.writer_cpu_seconds;
  int64_t all_tasks = batched.tasks + batched_same.tasks;
  std::printf("  whole corpus: %.0f tasks/s wall (target >= 20000), %.0f tasks per CPU-second,\n"
              "    %.0f tasks per writer-thread CPU-second (the wall rate's bound with a free "
              "second core)\n",
              all_tasks / all_s, all_tasks / all_cpu, all_tasks / all_writer);
  std::printf("  machine after writes: %s\n", machine_load().c_str());

  if (!flags["writes-only"].as<bool>()) {
    std::printf("\nqueries on %lld tasks (file %.0f MB)\n",
                static_cast<long long>(batched.tasks + batched_same.tasks),
                std::filesystem::file_size(big) / 1e6);
    {
      data::Corpus c = data::Corpus::open(big);
      data::AuditSummary s;
      double cold = median_ms(1, [&] { s = c.audit_summary(); });
      double warm = median_ms(5, [&] { s = c.audit_summary(); });
      std::printf("  audit_summary(): first %.0f ms, median of 5 %.0f ms (target < 1000 ms); "
                  "tasks %lld usable %lld\n", cold, warm, static_cast<long long>(s.tasks),
                  static_cast<long long>(s.usable));
      std::string cmd = std::string(ENVFORGE_BIN) + " audit --json --corpus " + big + " > /dev/null";
      bool cli_ok = true;
      double cli = median_ms(3, [&] { cli_ok = cli_ok && std::system(cmd.c_str()) == 0; });
      // A failed run (say, the binary is not built) has no figure worth printing.
      if (cli_ok)
        std::printf("  envforge audit --json (whole process): median of 3 %.0f ms\n", cli);
      else
        std::printf("  envforge audit --json (whole process): FAILED (%s)\n", cmd.c_str());

      std::mt19937_64 rng(7);
      const int lookups = 20000;
      std::vector<std::string> keys;
      for (int i = 0; i < lookups; ++i) {
        // Half are recorded items, half are not (index past the end).
        uint64_t index = rng() % items + (i % 2 ? items : 0);
        keys.push_back(data::work_item_key(data::sample::category_of(index), 0, index,
                                           shape.generator_version));
      }
      auto t = Clock::now();
      int found = 0;
      for (const auto& k : keys) found += c.has_work_item(k);
      double us = seconds_since(t) * 1e6 / lookups;
      std::printf("  has_work_item(): %.1f us per call (%d/%d found)\n", us, found, lookups);

      std::vector<std::string> task_ids;
      for (int i = 0; i < 2000; ++i) {
        auto item = data::sample::make_work_item(rng() % items, shape);
        task_ids.push_back(data::task_id(data::environment_id(item.environment), item.tasks[i % 6]));
      }
      t = Clock::now();
      int got = 0;
      for (const auto& id : task_ids) got += c.task(id).has_value();
      std::printf("  task(id) with validations: %.1f us per call (%d/%zu found)\n",
                  seconds_since(t) * 1e6 / task_ids.size(), got, task_ids.size());

      t = Clock::now();
      int64_t rows = 0;
      c.for_each_export_row({.usable_only = true, .category = "", .difficulty = std::nullopt},
                            [&](const data::ExportRow&) { ++rows; });
      double s_export = seconds_since(t);
      std::printf("  export stream (usable only): %lld rows in %.2f s, %.0f rows/s\n",
                  static_cast<long long>(rows), s_export, rows / s_export);
    }
  }
  std::printf("\nmachine at the end: %s\n", machine_load().c_str());
  if (!flags["keep"].as<bool>()) {
    for (const auto& p : {big, base})
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  } else {
    std::printf("\nkept %s\n", big.c_str());
  }
  return 0;
}
