// `envforge synth --category authored` through the real binary: a scripted generator agent
// (the library catalogue) builds one environment with one hardening round into a corpus.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data/corpus.h"
#include "library_script.h"
#include "tests/synth/cli_run.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;

class AuthoredSynthCliTest : public ::testing::Test {
 protected:
  envforge::testing::CliOutcome run(const std::string& args) { return envforge::testing::run_envforge(args, dir_); }

  envforge::testing::CliTempDir dir_;
};

TEST_F(AuthoredSynthCliTest, ScriptedGeneratorBuildsOneEnvironmentWithAHarderTask) {
  const std::string script = dir_.path + "/generator.json";
  std::ofstream(script) << testing::library_script().dump();
  const std::string corpus = dir_.path + "/corpus.db";
  const std::string args = "synth --category authored --llm scripted:" + script + " --count 1 --jobs 1 --seed 5" +
                           " --hardening-rounds 1 --description 'A library catalogue' --quiet --json --out " +
                           corpus + " --scratch-dir " + dir_.path;
  envforge::testing::CliOutcome o = run(args);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  json summary = json::parse(o.out);
  EXPECT_EQ(summary["environments"], 1) << o.out;
  EXPECT_EQ(summary["tasks"], 2) << o.out;
  EXPECT_EQ(summary["usable"], 2) << o.out;
  EXPECT_EQ(summary["failed"], 0) << o.out;

  {
    data::OpenOptions read_only;
    read_only.read_only = true;
    data::Corpus c = data::Corpus::open(corpus, read_only);
    const auto audit = c.audit_summary();
    EXPECT_EQ(audit.environments_by_category.at("authored"), 1);
    EXPECT_EQ(audit.tasks_by_difficulty.at(1), 1);
    EXPECT_EQ(audit.tasks_by_difficulty.at(2), 1);
    EXPECT_EQ(audit.usable, 2);
  }

  // A rerun resumes: the item is there, the generator is not asked again.
  o = run(args);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  summary = json::parse(o.out);
  EXPECT_EQ(summary["skipped"], 1) << o.out;
  EXPECT_EQ(summary["environments"], 0) << o.out;
}

TEST_F(AuthoredSynthCliTest, ABrokenVerifierIsRecordedAsRejected) {
  const std::string script = dir_.path + "/generator.json";
  std::ofstream(script) << testing::library_script({.broken_verifier = true, .hardening = false}).dump();
  const std::string corpus = dir_.path + "/corpus.db";
  envforge::testing::CliOutcome o = run("synth --category authored --llm scripted:" + script +
                  " --count 1 --jobs 1 --hardening-rounds 0 --quiet --json --out " + corpus + " --scratch-dir " + dir_.path);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  json summary = json::parse(o.out);
  EXPECT_EQ(summary["tasks"], 1) << o.out;
  EXPECT_EQ(summary["usable"], 0) << o.out;
  data::Corpus c = data::Corpus::open(corpus);
  const auto audit = c.audit_summary();
  ASSERT_EQ(audit.reject_reasons.size(), 1u);
  EXPECT_EQ(audit.reject_reasons.begin()->first.rfind("negative:author:0: expected fail, got pass", 0), 0u)
      << audit.reject_reasons.begin()->first;
}

// The work-item key of an authored job (its options routed through the category) is unchanged
// since categories went behind one interface; see tests/synth/task_ids_test.cc.
TEST_F(AuthoredSynthCliTest, AuthoredJobKeepsItsWorkItemKeyAndTaskIds) {
  const std::string script = dir_.path + "/generator.json";
  std::ofstream(script) << testing::library_script().dump();
  const std::string corpus = dir_.path + "/corpus.db";
  envforge::testing::CliOutcome o =
      run("synth --category authored --llm scripted:" + script + " --count 1 --jobs 1 --seed 5" +
          " --hardening-rounds 1 --description 'A library catalogue' --quiet --json --out " + corpus +
          " --scratch-dir " + dir_.path);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  {
    data::OpenOptions read_only;
    read_only.read_only = true;
    EXPECT_EQ(data::Corpus::open(corpus, read_only).work_item_keys(),
              (std::vector<std::string>{"e55ee617acc2d4f283a213006ca2c963bd082c0aef656c48c8a212c1c55b67a0"}));
  }
  // The ids are the content's: the same script gives them from any directory (this test's is
  // a fresh temporary one on every run).
  const auto ids = envforge::testing::corpus_task_ids(corpus);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids, (std::vector<std::string>{
                     "8b3f8f9675c805f2 L1 7fbdfc68c600cb9fef3cb4534a22a1c7392eb76c6a3a0befa0200d8c13a6f6cc",
                     "8b3f8f9675c805f2 L2 a6dbd8227355481fbc6950137329a15e916cd2bdf7b8e5ef6ed06a194dde95b3"}));
}

TEST_F(AuthoredSynthCliTest, AuthoredWithoutAGeneratorModelIsAUsageError) {
  envforge::testing::CliOutcome o = run("synth --category authored --count 1 --quiet --out " + dir_.path + "/corpus.db");
  EXPECT_EQ(o.exit_code, 2) << o.out << o.err;
  EXPECT_NE((o.out + o.err).find("--llm"), std::string::npos) << o.out << o.err;
}

}  // namespace
}  // namespace envforge::generators::authored
