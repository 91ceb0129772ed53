// The server's life: the token rule, the live-episode cap, SIGTERM draining every finished
// episode into the corpus, and SIGKILL leaving a corpus that passes PRAGMA integrity_check.
#include <gtest/gtest.h>

#include <atomic>

#include "tests/server/serve_fixture.h"

namespace envforge::testing {
namespace {

int64_t count_rollouts(const std::string& corpus) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(corpus.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM rollouts", -1, &s, nullptr);
  int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

std::string integrity(const std::string& corpus) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(corpus.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr);
  std::string out = sqlite3_step(s) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0)) : "?";
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

struct NotesCorpus {
  NotesCorpus() {
    path = dir.file("notes.db");
    make_notes_corpus(path, dir.path);
    fixed = notes_task_id(path, 1);
  }
  ServeTempDir dir;
  std::string path, fixed;
};

TEST(ServeLifecycle, TokenIsRequiredWhenConfiguredAndBeyondLoopback) {
  NotesCorpus c;
  // Beyond loopback without a token: refused at start.
  const std::string cmd = std::string(ENVFORGE_BIN) + " serve --corpus " + c.path + " --host 0.0.0.0 --port 0 2>" +
                          c.dir.file("err.txt");
  const int st = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(st), 2);
  std::ifstream err(c.dir.file("err.txt"));
  std::string text((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(text.find("token"), std::string::npos) << text;

  ServerProcess s(c.path, {"--log-level", "warn"}, {"ENVFORGE_SERVE_TOKEN=sekrit-123"});
  EXPECT_EQ(http_get(s.port(), "/health").status, 200);  // health checks stay open
  EXPECT_EQ(http_get(s.port(), "/tasks").status, 401);
  EXPECT_EQ(http_get(s.port(), "/tasks", "wrong").status, 401);
  EXPECT_EQ(http_get(s.port(), "/tasks", "sekrit-123").status, 200);
  EXPECT_EQ(http_post(s.port(), "/verify", {{"task_id", c.fixed}, {"answer", "42"}}).status, 401);
  EXPECT_THROW(WsClient ws(s.port()), std::exception);
  WsClient ws(s.port(), "sekrit-123");
  EXPECT_EQ(ws.reset({{"task_id", c.fixed}})["type"], "observation");

  // --token-file works as well.
  {
    std::ofstream f(c.dir.file("token"));
    f << "from-file\n";
  }
  ServerProcess s2(c.path, {"--token-file", c.dir.file("token"), "--log-level", "warn"});
  EXPECT_EQ(http_get(s2.port(), "/stats").status, 401);
  EXPECT_EQ(http_get(s2.port(), "/stats", "from-file").status, 200);
}

TEST(ServeLifecycle, CapacityReachedAtTheCap) {
  NotesCorpus c;
  ServerProcess s(c.path, {"--max-episodes", "2", "--log-level", "warn"});
  WsClient a(s.port()), b(s.port()), x(s.port());
  EXPECT_EQ(a.reset({{"task_id", c.fixed}})["type"], "observation");
  EXPECT_EQ(b.reset({{"task_id", c.fixed}})["type"], "observation");
  json r = x.reset({{"task_id", c.fixed}});
  EXPECT_EQ(r["type"], "error");
  EXPECT_EQ(r["data"]["code"], "CAPACITY_REACHED");
  EXPECT_EQ(r["data"]["max_sessions"], 2);
  EXPECT_EQ(http_post(s.port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "openenv/session/create"},
                                         {"params", {{"task_id", c.fixed}}}})
                .body["error"]["data"]["code"],
            "CAPACITY_REACHED");
  // One finishes: the next reset on the same connection is served.
  a.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "42"}}}});
  EXPECT_EQ(x.reset({{"task_id", c.fixed}})["type"], "observation");
}

TEST(ServeLifecycle, SigtermDrainsAndRecordsEveryFinishedEpisode) {
  NotesCorpus c;
  ASSERT_EQ(count_rollouts(c.path), 0);
  {
    ServerProcess s(c.path, {"--log-level", "warn", "--drain-s", "5"});
    for (int i = 0; i < 5; ++i) {
      WsClient ws(s.port());
      ASSERT_EQ(ws.reset({{"task_id", c.fixed}, {"model", "m-" + std::to_string(i)}})["type"], "observation");
      ws.call("add_note", {{"text", "n"}});
      json r = ws.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", i % 2 ? "42" : "no"}}}});
      ASSERT_EQ(r["data"]["done"], true) << r.dump();
    }
    WsClient open(s.port());  // still live at SIGTERM: ended as "shutdown" after the drain window
    ASSERT_EQ(open.reset({{"task_id", c.fixed}})["type"], "observation");
    s.signal(SIGTERM);
    EXPECT_EQ(s.wait_exit(), 0);
  }
  EXPECT_EQ(count_rollouts(c.path), 6);
  data::Corpus corpus = data::Corpus::open(c.path, {.read_only = true});
  auto task = corpus.task(c.fixed);
  ASSERT_TRUE(task);
  int passed = 0, shutdown = 0;
  for (const auto& r : task->rollouts) {
    passed += r.passed;
    shutdown += r.trajectory["end"] == "shutdown";
    EXPECT_EQ(r.trajectory["source"], "serve");
  }
  EXPECT_EQ(passed, 2);
  EXPECT_EQ(shutdown, 1);
  EXPECT_EQ(corpus.audit_summary().rollout_stats.rollouts_by_model.count("m-1"), 1u);
}

TEST(ServeLifecycle, SigkillThenRestartPassesIntegrityCheck) {
  NotesCorpus c;
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  {
    ServerProcess s(c.path, {"--log-level", "error"});
    std::vector<std::thread> players;
    for (int t = 0; t < 4; ++t)
      players.emplace_back([&, port = s.port()] {
        try {
          while (!stop) {
            WsClient ws(port);
            ws.reset({{"task_id", c.fixed}});
            ws.call("add_note", {{"text", "k"}});
            ws.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "42"}}}});
            ++finished;
          }
        } catch (const std::exception&) {
          // the server died under us: expected
        }
      });
    ASSERT_TRUE(eventually([&] { return finished.load() >= 40; }, 120));
    s.signal(SIGKILL);
    s.wait_exit();
    stop = true;
    for (auto& p : players) p.join();
  }
  EXPECT_EQ(integrity(c.path), "ok");
  const int64_t before = count_rollouts(c.path);
  EXPECT_GE(before, 0);
  ServerProcess again(c.path, {"--log-level", "warn"});
  WsClient ws(again.port());
  ASSERT_EQ(ws.reset({{"task_id", c.fixed}})["type"], "observation");
  EXPECT_EQ(ws.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "42"}}}})["data"]["reward"], 1.0);
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait_exit(), 0);
  EXPECT_EQ(count_rollouts(c.path), before + 1);
  EXPECT_EQ(integrity(c.path), "ok");
}

}  // namespace
}  // namespace envforge::testing
