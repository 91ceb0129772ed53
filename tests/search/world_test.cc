// Search worlds without the sandbox: the generated encyclopedia, the package records, a
// user's documents with extracted facts, and the questions built on them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "generators/search/confusables.h"
#include "generators/search/corpus_world.h"
#include "generators/search/ladder.h"
#include "generators/search/package_world.h"
#include "generators/search/synthetic_world.h"
#include "tests/synth/cli_run.h"

namespace envforge::generators::search {
namespace {

void expect_facts_stated(const World& w) {
  for (const auto& f : w.facts) {
    const Document* d = w.document(f.doc);
    ASSERT_NE(d, nullptr) << f.predicate << " of " << w.entities[static_cast<size_t>(f.subject)].name;
    bool on_a_line = false;
    for (size_t at = 0; (at = d->text.find(f.evidence, at)) != std::string::npos; ++at)
      on_a_line = on_a_line || f.evidence.find('\n') == std::string::npos;
    EXPECT_TRUE(on_a_line) << f.doc << ": " << f.evidence;
    EXPECT_NE(f.evidence.find(w.entities[static_cast<size_t>(f.subject)].name), std::string::npos) << f.evidence;
  }
}

TEST(SearchSyntheticWorld, SameSeedSameWorldAndEveryFactIsStated) {
  const World a = synthetic_world(7), b = synthetic_world(7), c = synthetic_world(8);
  ASSERT_EQ(a.documents.size(), b.documents.size());
  for (size_t i = 0; i < a.documents.size(); ++i) EXPECT_EQ(a.documents[i].text, b.documents[i].text);
  EXPECT_NE(a.documents[0].text, c.documents[0].text);
  std::map<std::string, int> types;
  for (const auto& e : a.entities) ++types[e.type];
  for (const char* t : {"country", "city", "person", "organisation", "work", "event"}) EXPECT_GT(types[t], 0) << t;
  expect_facts_stated(a);
  // Relations stand sometimes in the subject's article, sometimes in the object's.
  int in_subject = 0, in_object = 0;
  for (const auto& f : a.facts)
    if (f.object >= 0) (f.doc == a.entities[static_cast<size_t>(f.subject)].doc ? in_subject : in_object)++;
  EXPECT_GT(in_subject, 10);
  EXPECT_GT(in_object, 10);
}

TEST(SearchSyntheticWorld, NearTwinsShareSomeFacts) {
  const World w = synthetic_world(3);
  int twins = 0;
  for (const auto& a : w.entities)
    for (const auto& b : w.entities)
      if (a.id < b.id && a.type == b.type && a.name.size() == b.name.size()) {
        int diff = 0;
        for (size_t i = 0; i < a.name.size(); ++i) diff += a.name[i] != b.name[i];
        twins += diff == 1;
      }
  EXPECT_GE(twins, 10);
}

TEST(SearchLadder, FiveLevelsEachUniqueWithAProofAndTenConfusables) {
  const World w = synthetic_world(11);
  const auto ladder = make_ladder(w, 11, 3);
  std::map<int, int> per_level;
  for (const Question& q : ladder) {
    ++per_level[q.level];
    const Evaluation ev = evaluate(w, q);
    ASSERT_TRUE(ev.unique()) << render_question(w, q) << ": " << ev.problem;
    EXPECT_FALSE(ev.proof.empty());
    const auto accepted = accepted_answers(w, ev);
    const auto cands = confusables(w, q, ev, accepted);
    EXPECT_GE(cands.size(), 10u) << render_question(w, q);
    for (const auto& c : cands) EXPECT_NE(c.answer, accepted.front());
    if (q.level == 3) {
      EXPECT_LT(q.start, 0) << "level 3 describes its start";
      EXPECT_GE(q.constraints.size(), 2u);
      EXPECT_EQ(q.hops.size(), 2u);
    }
    if (q.level == 4) {
      EXPECT_FALSE(q.aggregate.empty());
    }
    if (q.level == 5) {
      EXPECT_GE(q.constraints.size(), 3u);
      EXPECT_GE(q.hops.size(), 3u);
    }
  }
  for (int level = 1; level <= kLevels; ++level) EXPECT_EQ(per_level[level], 3) << "level " << level;
  EXPECT_EQ(make_ladder(w, 11, 3).size(), ladder.size());
}

TEST(SearchLadder, AQuestionTwoEntitiesSatisfyIsAmbiguous) {
  const World w = synthetic_world(5);
  // Every city whose country is the first city's: more than one fits.
  const int city = w.of_type("city").front();
  const Fact* country = w.facts_of(city, "located_in").front();
  Question q;
  q.level = 3;
  q.start_type = "city";
  q.constraints = {{"located_in", country->object, ""}};
  q.hops = {"population"};
  const Evaluation ev = evaluate(w, q);
  EXPECT_FALSE(ev.unique());
  EXPECT_NE(ev.problem.find("ambiguous start"), std::string::npos) << ev.problem;
  EXPECT_GE(ev.start_matches.size(), 2u);
  // Hostile programs are problems, not crashes.
  for (Question bad : {Question{}, q}) {
    bad.start = 100000;
    EXPECT_FALSE(evaluate(w, bad).unique());
  }
  Question unknown = q;
  unknown.start = city;
  unknown.hops = {"no_such_predicate"};
  EXPECT_NE(evaluate(w, unknown).problem.find("unknown predicate"), std::string::npos);
}

TEST(SearchPackageWorld, ReadsInstalledRecordsAndSkipsTheRest) {
  envforge::testing::CliTempDir dir;
  const std::string path = dir.file("status");
  envforge::testing::write_text_file(path,
      "Package: alpha\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 120\n"
      "Maintainer: Jane Roe <jane@example.org>\nArchitecture: amd64\nVersion: 1.2-3\n"
      "Depends: beta (>= 2), gamma:any | delta, missing\nDescription: the alpha library\n a longer text\n .\n more\n\n"
      "Package: beta\nStatus: install ok installed\nSection: utils\nMaintainer: Jane Roe <jane@example.org>\r\n"
      "Version: 2.0\nSource: beta-src (2.0)\nDescription: beta tools\n\n"
      "Package: gone\nStatus: deinstall ok config-files\nVersion: 0.1\nMaintainer: X <x@y>\n\n"
      "garbage line without colon\nPackage: gamma\nStatus: install ok installed\nVersion: 3\nMaintainer: Q <q@q>\n");
  const auto records = read_dpkg_status(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].name, "alpha");
  EXPECT_EQ(records[0].depends, (std::vector<std::string>{"beta", "gamma", "missing"}));
  EXPECT_EQ(records[0].email, "jane@example.org");
  EXPECT_EQ(records[1].source, "beta-src");
  EXPECT_EQ(records[1].maintainer, "Jane Roe");
  const World w = package_world(records, 1);
  expect_facts_stated(w);
  EXPECT_EQ(w.of_type("maintainer").size(), 2u);
  const auto& deps = w.facts_of(0, "depends");
  EXPECT_EQ(deps.size(), 2u) << "a dependency that is not installed is dropped";

  envforge::testing::write_text_file(path, "Package: x\nStatus: deinstall ok config-files\n");
  EXPECT_THROW(read_dpkg_status(path), std::runtime_error);
  EXPECT_THROW(read_dpkg_status(dir.file("nope")), std::runtime_error);
}

TEST(SearchPackageWorld, TheMachinesOwnRecordsGiveAFiveLevelLadder) {
  const World w = package_world(read_dpkg_status("/var/lib/dpkg/status"), 2);
  ASSERT_GT(w.of_type("package").size(), 50u);
  std::set<int> levels;
  for (const Question& q : make_ladder(w, 2, 2)) {
    EXPECT_TRUE(evaluate(w, q).unique());
    levels.insert(q.level);
  }
  EXPECT_EQ(levels, (std::set<int>{1, 2, 3, 4, 5}));
}

TEST(SearchCorpusWorld, LoadsFoldersAndJsonlAndRejectsBadInput) {
  envforge::testing::CliTempDir dir;
  std::filesystem::create_directories(dir.file("docs/sub"));
  envforge::testing::write_text_file(dir.file("docs/a.md"), "# Ada Lovelace\nAda Lovelace was born in London.\n");
  envforge::testing::write_text_file(dir.file("docs/sub/b.html"),
      "<html><head><title>London</title><style>p{}</style><script>var x='<p>';</script></head>"
      "<body><p>London is a city in England.</p><!-- note --><p>Fish &amp; chips</p></body></html>");
  envforge::testing::write_text_file(dir.file("docs/skip.bin"), "binary");
  const auto docs = load_corpus_documents(dir.file("docs"));
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].id, "a.md");
  EXPECT_EQ(docs[0].title, "Ada Lovelace");
  EXPECT_EQ(docs[1].id, "sub/b.html");
  EXPECT_NE(docs[1].text.find("London is a city in England.\n"), std::string::npos) << docs[1].text;
  EXPECT_NE(docs[1].text.find("Fish & chips"), std::string::npos);
  EXPECT_EQ(docs[1].text.find("var x"), std::string::npos);

  envforge::testing::write_text_file(dir.file("c.jsonl"),
                                     "{\"id\": \"x\", \"title\": \"X\", \"text\": \"one\"}\n\n{\"text\": \"two\"}\n");
  EXPECT_EQ(load_corpus_documents(dir.file("c.jsonl")).size(), 2u);
  envforge::testing::write_text_file(dir.file("bad.jsonl"), "{\"text\": \"ok\"}\n{not json\n");
  try {
    load_corpus_documents(dir.file("bad.jsonl"));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2: not valid JSON"), std::string::npos) << e.what();
  }
  envforge::testing::write_text_file(dir.file("dup.jsonl"), "{\"id\":\"a\",\"text\":\"1\"}\n{\"id\":\"a\",\"text\":\"2\"}\n");
  EXPECT_THROW(load_corpus_documents(dir.file("dup.jsonl")), std::runtime_error);
  EXPECT_THROW(load_corpus_documents(dir.file("nothing-here")), std::runtime_error);
  std::filesystem::create_directories(dir.file("empty"));
  EXPECT_THROW(load_corpus_documents(dir.file("empty")), std::runtime_error);
}

TEST(SearchCorpusWorld, ExtractedFactsNeedVerbatimEvidenceNamingBothSides) {
  Document d{"a.md", "Ada", "Ada Lovelace was born in London.\nShe was born in 1815.\nAda Lovelace wrote Notes in 1843.\n"};
  ExtractedFacts x;
  std::vector<std::string> why;
  const std::string reply = R"(Here you go: {"facts": [
    {"subject": "Ada Lovelace", "subject_type": "person", "predicate": "born_in", "noun": "birthplace",
     "relative": "was born in", "object": "London", "object_type": "city", "kind": "entity",
     "evidence": "Ada Lovelace was born in London."},
    {"subject": "Ada Lovelace", "subject_type": "person", "predicate": "born_year", "object": "1815",
     "kind": "year", "evidence": "She was born in 1815."},
    {"subject": "Ada Lovelace", "subject_type": "person", "predicate": "wrote_in", "object": "1843",
     "kind": "year", "evidence": "Ada Lovelace wrote Notes in 1843."},
    {"subject": "Ada Lovelace", "subject_type": "person", "predicate": "born_in", "object": "Paris",
     "object_type": "city", "kind": "entity", "evidence": "Ada Lovelace was born in Paris."},
    {"subject": "Ada Lovelace", "subject_type": "person", "predicate": "Bad Name!", "object": "x", "kind": "text",
     "evidence": "Ada Lovelace was born in London."},
    {"subject": "Ada Lovelace", "subject_type": "person", "predicate": "born_in", "object": "1815",
     "kind": "year", "evidence": "Ada Lovelace wrote Notes in 1843."},
    "not an object"]})";
  EXPECT_EQ(add_extracted(d, reply, x, why), 2u);
  ASSERT_EQ(x.facts.size(), 2u);
  EXPECT_EQ(x.facts[0].predicate, "born_in");
  EXPECT_EQ(x.facts[1].value, "1843");
  EXPECT_EQ(why.size(), 5u);
  EXPECT_EQ(add_extracted(d, "no json at all", x, why), 0u);
  EXPECT_EQ(add_extracted(d, "{\"facts\": 3}", x, why), 0u);
  const World w = corpus_world({d}, x, 0);
  EXPECT_EQ(w.of_type("person").size(), 1u);
  EXPECT_EQ(w.predicate("born_in")->noun, "birthplace");
}

}  // namespace
}  // namespace envforge::generators::search
