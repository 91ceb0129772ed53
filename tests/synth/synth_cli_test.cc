// `envforge synth` through the real binary: options and errors, a whole run
// checked through `envforge audit --json`, and a run killed with SIGKILL at
// several points then resumed, compared with a clean run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "tests/synth/cli_run.h"

namespace {

using nlohmann::json;
using envforge::testing::CliTempDir;
using envforge::testing::run_envforge;
using envforge::testing::slurp_file;
using envforge::testing::spawn_synth;

size_t recorded_items(const std::string& path) {
  if (!std::filesystem::exists(path)) return 0;
  try {
    envforge::data::OpenOptions o;
    o.read_only = true;
    return envforge::data::Corpus::open(path, o).work_item_keys().size();
  } catch (const std::exception&) {
    return 0;  // not created yet
  }
}

// Everything a run makes that must not depend on how it got there (timings and
// run ids aside): items, environments, tasks with status, validations with verdicts.
json corpus_content(const std::string& path) {
  envforge::data::OpenOptions o;
  o.read_only = true;
  auto corpus = envforge::data::Corpus::open(path, o);
  json out = {{"keys", corpus.work_item_keys()}, {"tasks", json::array()}};
  std::vector<std::string> ids;
  corpus.for_each_export_row({}, [&](const envforge::data::ExportRow& row) { ids.push_back(row.task.id); });
  for (const auto& id : ids) {
    const auto t = corpus.task(id, true);
    json v = json::array();
    for (const auto& r : t->validations) v.push_back({r.id, r.check, r.attempt, r.verdict, r.reason, r.as_expected});
    out["tasks"].push_back({{"id", t->id}, {"env", t->environment_id}, {"status", envforge::data::to_string(t->status)},
                            {"reject", t->reject_reason}, {"validations", v}});
  }
  return out;
}

TEST(SynthCli, HelpListsOptionsWithDefaults) {
  CliTempDir dir;
  const auto r = run_envforge("synth --help", dir);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--category", "--count", "--out", "--seed", "--jobs", "--config", "--log-json"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  EXPECT_NE(r.out.find("corpus.db"), std::string::npos);
  EXPECT_NE(r.out.find("20"), std::string::npos);
}

TEST(SynthCli, BadOptionsExit2WithAReason) {
  CliTempDir dir;
  const std::string out = " --out " + dir.path + "/c.db";
  struct Case {
    std::string args, mentions;
  };
  for (const Case& c : std::vector<Case>{{"--count 0", "count"},
                                         {"--category poetry", "poetry"},
                                         {"--jobs 0", "jobs"},
                                         {"--seed -3", "seed"},
                                         {"--frobnicate", "frobnicate"},
                                         {"--config " + dir.path + "/missing.json", "missing.json"}}) {
    const auto r = run_envforge("synth " + c.args + out, dir);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << c.args << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/c.db")) << "a usage error must not create the corpus";
  // A file that is not a corpus is refused and left untouched.
  const std::string junk = dir.path + "/junk.db";
  { FILE* f = std::fopen(junk.c_str(), "wb"); std::fputs("not a database at all", f); std::fclose(f); }
  const auto r = run_envforge("synth --count 1 --quiet --out " + junk, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("junk.db"), std::string::npos) << r.err;
  EXPECT_EQ(slurp_file(junk), "not a database at all");
}

TEST(SynthCli, WholeRunCheckedThroughAudit) {
  CliTempDir dir;
  const std::string db = dir.path + "/corpus.db";
  // The job file sets count and seed; the --count flag wins over it.
  { FILE* f = std::fopen((dir.path + "/job.json").c_str(), "w"); std::fputs(R"({"count": 9, "seed": 5, "jobs": 2})", f); std::fclose(f); }
  const auto r = run_envforge("synth --config " + dir.path + "/job.json --count 3 --quiet --json --out " + db, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["environments"], 3);
  EXPECT_EQ(s["tasks"], 15);
  EXPECT_EQ(s["usable"], 15);
  EXPECT_EQ(s["validation_pass_rate"], 1.0);
  for (int level = 1; level <= 5; ++level) EXPECT_EQ(s["tasks_per_level"][std::to_string(level)], 3);
  const auto a = run_envforge("audit --json --corpus " + db, dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const json audit = json::parse(a.out);
  EXPECT_EQ(audit["environments"], 3);
  EXPECT_EQ(audit["tasks"], 15);
  EXPECT_EQ(audit["usable"], 15);
  EXPECT_EQ(audit["validations_failed"], 0);
  EXPECT_GE(audit["validations"].get<int>(), 15 * 13);
  EXPECT_EQ(audit["by_category"]["tasks"]["trip"], 15);
  for (int level = 1; level <= 5; ++level) EXPECT_EQ(audit["by_difficulty"][std::to_string(level)], 3);
  EXPECT_EQ(audit["duplicates"]["groups"], 0);
  // The same job again finds everything done.
  const auto again = run_envforge("synth --count 3 --seed 5 --quiet --json --out " + db, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["skipped"], 3);
  EXPECT_EQ(json::parse(again.out)["environments"], 0);
}

TEST(SynthCli, KilledAtSeveralPointsThenResumedEqualsACleanRun) {
  CliTempDir dir;
  const std::string clean = dir.path + "/clean.db", killed = dir.path + "/killed.db";
  const std::vector<std::string> job = {"--count", "4", "--seed", "11", "--jobs", "2", "--quiet"};
  auto with_out = [&](const std::string& out) {
    auto a = job;
    a.push_back("--out");
    a.push_back(out);
    return a;
  };
  // Kill points: right after start, after the first item, after the third.
  for (size_t wait_for : {0u, 1u, 3u}) {
    const size_t before = recorded_items(killed);
    const pid_t pid = spawn_synth(with_out(killed));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    if (wait_for == 0) std::this_thread::sleep_for(std::chrono::milliseconds(150));
    while (wait_for > 0 && recorded_items(killed) < std::max(wait_for, before + 1) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    // What is there is a valid corpus of whole items.
    if (std::filesystem::exists(killed) && recorded_items(killed) > 0) {
      const json partial = corpus_content(killed);
      EXPECT_EQ(partial["tasks"].size(), 5 * partial["keys"].size()) << "only whole work items";
    }
  }
  {
    const pid_t pid = spawn_synth(with_out(killed));
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  {
    const pid_t pid = spawn_synth(with_out(clean));
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const json a = corpus_content(clean), b = corpus_content(killed);
  EXPECT_EQ(a["keys"].size(), 4u);
  EXPECT_EQ(a["tasks"].size(), 20u);
  EXPECT_EQ(a, b) << "a resumed run must end with exactly what a clean run makes";
  const auto audit_clean = json::parse(run_envforge("audit --json --corpus " + clean, dir).out);
  const auto audit_killed = json::parse(run_envforge("audit --json --corpus " + killed, dir).out);
  for (const char* k : {"environments", "tasks", "usable", "validations", "validations_failed", "by_difficulty"})
    EXPECT_EQ(audit_clean[k], audit_killed[k]) << k;
}

}  // namespace
