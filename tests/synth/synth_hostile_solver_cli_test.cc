// `envforge synth --solver openai:...` against a hostile OpenAI-compatible server on loopback
// whose every reply is a 503 page that is not valid UTF-8: every attempt fails, each failure is
// recorded (valid UTF-8) with its task, and the work item, its tasks and the run are kept.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "model/text/utf8.h"
#include "tests/agents/stand_in_server.h"
#include "tests/synth/cli_run.h"

namespace envforge::testing {
namespace {

using nlohmann::json;
using agents::testing::ScriptedHttpReply;
using agents::testing::StandInServer;

TEST(SynthHostileSolver, RepliesThatAreNotUtf8FailTheirAttemptsAndLoseNothingElse) {
  StandInServer server;
  const std::string page = "<html>\xe6\x9c\x8d\xe5\x8a\xa1\xe6\x9a\x82\xe6\x97\xb6\xe4\xb8\x8d\xe5\x8f\xaf\xe7\x94\xa8 \xff";
  for (int i = 0; i < 400; ++i) {
    auto busy = ScriptedHttpReply::json(nullptr, i % 2 ? 503 : 200);
    busy.content_type = "text/html";
    busy.body = page.substr(0, page.size() - 3 - (i % 3));  // cut inside a character, or after \xff
    busy.headers = {{"Retry-After", "0"}};
    server.enqueue(busy);
  }
  CliTempDir dir;
  const std::string db = dir.file("corpus.db");
  const auto r = run_envforge("synth --count 1 --seed 3 --jobs 1 --solver openai:" + server.base_url() +
                                  "#hostile --rollouts 2 --rollout-jobs 1 --quiet --json --out " + db,
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["environments"], 1) << s.dump();
  EXPECT_EQ(s["failed"], 0) << s.dump();
  EXPECT_GT(s["rollouts"]["attempts"].get<int>(), 0);
  EXPECT_EQ(s["rollouts"]["errors"], s["rollouts"]["attempts"]);

  data::OpenOptions ro;
  ro.read_only = true;
  data::Corpus corpus = data::Corpus::open(db, ro);
  ASSERT_EQ(corpus.work_item_keys().size(), 1u);
  size_t rollouts = 0;
  std::vector<std::string> ids;
  corpus.for_each_export_row({}, [&](const data::ExportRow& row) { ids.push_back(row.task.id); });
  for (const auto& id : ids) {
    const auto task = corpus.task(id, true);
    ASSERT_TRUE(task);
    for (const auto& rec : task->rollouts) {
      ++rollouts;
      const std::string text = rec.trajectory.dump();
      EXPECT_TRUE(model::text::is_valid_utf8(text));
      EXPECT_NE(text.find("\xe6\x9c\x8d\xe5\x8a\xa1"), std::string::npos) << "the readable part is kept";
      EXPECT_EQ(rec.trajectory["stop_reason"], "backend_error");
      EXPECT_FALSE(rec.passed);
    }
  }
  EXPECT_EQ(rollouts, s["rollouts"]["attempts"].get<size_t>());
  // The endpoint and the cause were said on the console.
  EXPECT_NE(r.err.find(server.base_url() + "/chat/completions"), std::string::npos) << r.err;
}

TEST(SynthHostileSolver, AnAuthoredRunWhoseGeneratorGetsBytesThatAreNotUtf8FailsItsItemNotTheRun) {
  StandInServer server;
  for (int i = 0; i < 200; ++i) {
    auto busy = ScriptedHttpReply::json(nullptr, 503);
    busy.content_type = "text/html";
    busy.body = "<html>\xe6\x9c\x8d\xe5\x8a\xa1 \xff\xfe \xe4\xb8";
    busy.headers = {{"Retry-After", "0"}};
    server.enqueue(busy);
  }
  CliTempDir dir;
  const std::string db = dir.file("corpus.db");
  const auto r = run_envforge("synth --category authored --count 1 --jobs 1 --llm openai:" + server.base_url() +
                                  "#hostile --quiet --json --out " + db,
                              dir);
  EXPECT_NE(r.exit_code, 2) << "not a usage error: " << r.err;
  ASSERT_FALSE(r.out.empty()) << r.err;
  const json s = json::parse(r.out);  // the run ended with its summary
  EXPECT_EQ(s["failed"], 1) << s.dump();
  EXPECT_TRUE(model::text::is_valid_utf8(r.out));
  EXPECT_NE(r.err.find(server.base_url() + "/chat/completions"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace envforge::testing
