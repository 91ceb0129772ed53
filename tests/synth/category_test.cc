// The category registry: what start_category checks before any work, and the CLI's routing of
// a category's own options.
#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "generators/category.h"
#include "tests/synth/cli_run.h"

namespace envforge::generators {
namespace {

JobSetup setup_of(nlohmann::json options, GeneratorModel llm = {}) {
  JobSetup s;
  s.options = std::move(options);
  s.llm = std::move(llm);
  return s;
}

std::string start_error(const std::string& name, JobSetup setup) {
  try {
    start_category(name, std::move(setup));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(CategoryRegistry, ListsTripAndAuthoredWithTheirOptions) {
  ASSERT_NE(find_category("trip"), nullptr);
  ASSERT_NE(find_category("authored"), nullptr);
  EXPECT_EQ(find_category("poetry"), nullptr);
  EXPECT_EQ(category_names().rfind("trip, authored", 0), 0u) << category_names();
  EXPECT_TRUE(find_category("trip")->options.empty());
  EXPECT_EQ(find_category("authored")->llm, GeneratorModelUse::kRequired);
  for (const auto& c : categories()) {
    EXPECT_FALSE(c.summary.empty()) << c.name;
    EXPECT_TRUE(c.start) << c.name;
  }
}

TEST(CategoryRegistry, StartChecksNamesOptionsAndTheGeneratorModel) {
  EXPECT_NE(start_error("poetry", setup_of({})).find("unknown category 'poetry' (available: trip, authored"), std::string::npos);
  EXPECT_NE(start_error("trip", setup_of({{"hardening-rounds", 2}})).find("category trip has no option "
                                                                            "--hardening-rounds (its options: none)"),
            std::string::npos);
  EXPECT_NE(start_error("trip", setup_of(nlohmann::json::array())).find("must be a JSON object"), std::string::npos);
  EXPECT_NE(start_error("authored", setup_of({})).find("category authored needs a generator model (--llm)"), std::string::npos);
  EXPECT_EQ(start_error("trip", setup_of({})), "");
  const auto trip = start_category("trip", setup_of({}));
  EXPECT_FALSE(trip->version().empty());
}

TEST(CategoryRegistry, AuthoredChecksItsOwnOptions) {
  // A model is present but never called: starting a job only checks options.
  GeneratorModel model;
  model.per_item = [] { return std::unique_ptr<agents::Backend>(); };
  EXPECT_NE(start_error("authored", setup_of({{"hardening-rounds", "two"}}, model))
                .find("--hardening-rounds must be an integer, not \"two\""),
            std::string::npos);
  EXPECT_NE(start_error("authored", setup_of({{"hardening-rounds", 101}}, model))
                .find("--hardening-rounds must be 0..100, got 101"),
            std::string::npos);
  EXPECT_NE(start_error("authored", setup_of({{"description", "a"}, {"description-file", "/x"}}, model))
                .find("--description or --description-file"),
            std::string::npos);
  EXPECT_NE(start_error("authored", setup_of({{"description-file", "/nonexistent/desc.txt"}}, model))
                .find("--description-file: cannot read \"/nonexistent/desc.txt\""),
            std::string::npos);
  EXPECT_EQ(start_error("authored", setup_of({{"description", "A library"}}, model)), "");
}

TEST(CategoryRegistry, StageTimesSumByName) {
  StageTimes a, b;
  a.add("world", 2);
  a.add("validate", 3);
  a.add("world", 1);
  b.add("record", 4);
  b.add("world", 1);
  a += b;
  EXPECT_DOUBLE_EQ(a.ms("world"), 4);
  EXPECT_DOUBLE_EQ(a.ms("record"), 4);
  EXPECT_DOUBLE_EQ(a.ms("never"), 0);
  EXPECT_DOUBLE_EQ(a.total_ms(), 11);
  ASSERT_EQ(a.stages().size(), 3u);
  EXPECT_EQ(a.stages()[0].first, "world");
  EXPECT_EQ(a.stages()[2].first, "record");
}

TEST(CategoryCli, AnotherCategorysOptionIsAUsageErrorAndHelpListsEveryCategory) {
  testing::CliTempDir dir;
  const std::string db = dir.file("c.db");
  auto r = testing::run_envforge("synth --category trip --count 1 --quiet --hardening-rounds 2 --out " + db, dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--hardening-rounds 2: an option of category authored, not of trip"), std::string::npos)
      << r.err;
  // The same through a job file.
  const std::string job = dir.file("job.json");
  testing::write_text_file(job, R"({"category": "trip", "description": "x", "count": 1})");
  r = testing::run_envforge("synth --quiet --config " + job + " --out " + db, dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--description x: an option of category authored"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));

  r = testing::run_envforge("synth --help", dir);
  EXPECT_EQ(r.exit_code, 0);
  // Every category is named; those with options show them in a group of their own.
  for (const auto& c : categories()) {
    EXPECT_NE(r.out.find(c.name), std::string::npos) << c.name;
    if (!c.options.empty()) EXPECT_NE(r.out.find("Category " + c.name + ": "), std::string::npos) << c.name;
  }
}

}  // namespace
}  // namespace envforge::generators
