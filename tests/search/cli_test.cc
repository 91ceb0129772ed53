// `envforge synth --category search` through the real binary, and `envforge audit` on what it
// recorded; a user's documents with facts from a scripted generator model; bad options.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agents/scripted_backend.h"
#include "generators/search/rewrite.h"
#include "generators/search/synthetic_world.h"
#include "generators/search/ladder.h"
#include "tests/synth/cli_run.h"

namespace envforge::testing {
namespace {

using nlohmann::json;

TEST(SearchCli, SynthesizesAndAuditShowsFiveLevels) {
  CliTempDir dir;
  const std::string db = dir.file("corpus.db");
  CliOutcome o = run_envforge("synth --category search --count 2 --seed 3 --jobs 2 --quiet --json --out " + db +
                                  " --scratch-dir " + dir.path,
                              dir);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  const json s = json::parse(o.out);
  EXPECT_EQ(s["environments"], 2);
  EXPECT_EQ(s["tasks"], 20);
  EXPECT_GE(s["usable"].get<int>(), 18) << o.out;
  EXPECT_TRUE(s["stage_ms"].contains("questions")) << o.out;

  o = run_envforge("audit --json --corpus " + db, dir);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json a = json::parse(o.out);
  EXPECT_EQ(a["by_category"]["environments"]["search"], 2) << o.out;
  EXPECT_EQ(a["by_category"]["tasks"]["search"], 20) << o.out;
  for (const char* level : {"1", "2", "3", "4", "5"}) EXPECT_EQ(a["by_difficulty"][level], 4) << level << o.out;

  // The same job again resumes; the packages world is another generator version.
  o = run_envforge("synth --category search --count 2 --seed 3 --quiet --json --out " + db, dir);
  EXPECT_EQ(json::parse(o.out)["skipped"], 2) << o.out;
  o = run_envforge("synth --category search --search-world packages --tasks-per-level 1 --count 1 --seed 3 "
                   "--quiet --json --out " + db + " --scratch-dir " + dir.path, dir);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_EQ(json::parse(o.out)["environments"], 1) << o.out;
}

TEST(SearchCli, BadOptionsAreUsageErrorsBeforeAnyWork) {
  CliTempDir dir;
  const std::string db = dir.file("c.db");
  write_text_file(dir.file("bad.jsonl"), "{\"text\": 1}\n");
  for (const auto& [args, mention] : std::vector<std::pair<std::string, std::string>>{
           {"--search-world moon", "--search-world must be synthetic, packages or corpus"},
           {"--tasks-per-level 0", "--tasks-per-level must be 1..20"},
           {"--search-world packages --packages-file " + dir.file("none"), "--packages-file"},
           {"--corpus-source " + dir.file("none"), "--corpus-source needs a generator model"},
           {"--llm none --search-world corpus", "needs --corpus-source"},
           {"--rewrite-questions", "--rewrite-questions needs a generator model"},
           {"--corpus-source " + dir.file("bad.jsonl") + " --llm scripted:" + dir.file("x.json"), "--llm"}}) {
    const CliOutcome o = run_envforge("synth --category search --count 1 --quiet " + args + " --out " + db, dir);
    EXPECT_EQ(o.exit_code, 2) << args << ": " << o.err;
    EXPECT_NE(o.err.find(mention), std::string::npos) << args << ": " << o.err;
  }
  EXPECT_FALSE(std::filesystem::exists(db));
}

// Twelve people in twelve documents; the scripted model states each document's facts.
TEST(SearchCli, AUsersDocumentsWithFactsFromTheGeneratorModel) {
  CliTempDir dir;
  const std::vector<std::string> cities = {"Arlen", "Bexley", "Corrin", "Dunmore", "Elsby", "Fenwick"};
  std::string jsonl;
  json replies = json::array();
  for (int i = 0; i < 12; ++i) {
    const std::string name = "Person" + std::string(1, static_cast<char>('A' + i)) + " Quill";
    const std::string city = cities[static_cast<size_t>(i) % cities.size()];
    const std::string year = std::to_string(1900 + 7 * i);
    const std::string s1 = name + " was born in " + city + ".", s2 = name + " was born in the year " + year + ".";
    jsonl += json({{"id", "p" + std::to_string(i)}, {"title", name}, {"text", name + "\n" + s1 + "\n" + s2 + "\n"}}).dump() + "\n";
    const json facts = {{"facts",
                         {{{"subject", name}, {"subject_type", "person"}, {"predicate", "born_in"}, {"noun", "birthplace"},
                           {"relative", "was born in"}, {"object", city}, {"object_type", "city"}, {"kind", "entity"},
                           {"evidence", s1}},
                          {{"subject", name}, {"subject_type", "person"}, {"predicate", "birth_year"},
                           {"noun", "year of birth"}, {"relative", "was born in the year"}, {"object", year},
                           {"kind", "year"}, {"evidence", s2}}}}};
    replies.push_back({{"content", facts.dump()}});
  }
  write_text_file(dir.file("docs.jsonl"), jsonl);
  write_text_file(dir.file("model.json"), json({{"replies", replies}}).dump());
  const std::string db = dir.file("corpus.db");
  const CliOutcome o = run_envforge("synth --category search --corpus-source " + dir.file("docs.jsonl") +
                                        " --llm scripted:" + dir.file("model.json") +
                                        " --count 1 --quiet --json --out " + db + " --scratch-dir " + dir.path,
                                    dir);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  const json s = json::parse(o.out);
  EXPECT_EQ(s["environments"], 1) << o.out;
  EXPECT_GE(s["usable"].get<int>(), 2) << o.out;
  EXPECT_TRUE(s["usable_per_level"].contains("1")) << o.out;
}

TEST(SearchRewrite, KeepsARewriteOnlyWhenItKeepsTheNamesAndHidesTheAnswer) {
  using namespace generators::search;
  const World w = synthetic_world(4);
  Question q = make_ladder(w, 4, 1).at(1);  // level 2, a named start
  const std::string start = w.entities[static_cast<size_t>(q.start)].name;
  SearchTask task = make_task(w, q);
  const std::string templated = task.prompt;
  agents::ScriptedBackend model(json{{"replies",
                                      {{{"content", "Can you tell me the thing about someone?"}},
                                       {{"content", "Which answer, given " + start + "? It is " + task.answers[0] + "."}},
                                       {{"content", "\"Tell me: for " + start + ", what is asked here?\"\n"}},
                                       {{"error", {{"kind", "timeout"}, {"message", "slow"}}}}}}});
  json r = rewrite_question(model, w, task);
  EXPECT_FALSE(r["accepted"].get<bool>());
  EXPECT_NE(r["reason"].get<std::string>().find("drops"), std::string::npos) << r.dump();
  r = rewrite_question(model, w, task);
  EXPECT_EQ(r["reason"], "gives the answer away") << r.dump();
  EXPECT_EQ(task.prompt, templated);
  r = rewrite_question(model, w, task);
  EXPECT_TRUE(r["accepted"].get<bool>()) << r.dump();
  EXPECT_EQ(task.prompt, "Tell me: for " + start + ", what is asked here?");
  r = rewrite_question(model, w, task);
  EXPECT_FALSE(r["accepted"].get<bool>());
}

}  // namespace
}  // namespace envforge::testing
