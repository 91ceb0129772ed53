// Whole episodes against the real server on loopback: WebSocket, MCP over HTTP, stateless
// HTTP, /verify, /get_reward, /tasks, and two episodes whose writes must not meet.
#include <gtest/gtest.h>

#include "tests/server/serve_fixture.h"

namespace envforge::testing {
namespace {

class ServeEpisodes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ServeTempDir();
    corpus_ = dir_->file("notes.db");
    make_notes_corpus(corpus_, dir_->path);
    fixed_ = notes_task_id(corpus_, 1);
    written_ = notes_task_id(corpus_, 2);
    // One sandbox session: every episode shares one box, so isolation is tested where it matters.
    server_ = new ServerProcess(corpus_, {"--log-level", "warn", "--sessions-per-env", "1"}, {}, dir_->file("serve.log"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static uint16_t port() { return server_->port(); }

  static inline ServeTempDir* dir_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
  static inline std::string corpus_, fixed_, written_;
};

TEST_F(ServeEpisodes, WholeEpisodeOverWebSocket) {
  WsClient ws(port());
  json r = ws.reset({{"task_id", written_}, {"episode_id", "ws-1"}, {"model", "policy-a"}});
  ASSERT_EQ(r["type"], "observation") << r.dump();
  const json& d = r["data"];
  EXPECT_TRUE(d["reward"].is_null());
  EXPECT_EQ(d["done"], false);
  EXPECT_EQ(d["observation"]["episode_id"], "ws-1");
  EXPECT_EQ(d["observation"]["task_id"], written_);
  EXPECT_EQ(d["observation"]["messages"][0]["role"], "system");
  const json& tools = d["observation"]["tools"];
  ASSERT_EQ(tools.size(), 10u);
  EXPECT_EQ(tools.back()["function"]["name"], "submit");

  r = ws.call("add_note", {{"text", "alpha"}});
  ASSERT_EQ(r["type"], "observation") << r.dump();
  EXPECT_TRUE(r["data"]["reward"].is_null());
  EXPECT_EQ(r["data"]["done"], false);
  EXPECT_EQ(r["data"]["observation"]["result"]["added"], "alpha");
  EXPECT_EQ(r["data"]["observation"]["step_count"], 1);

  r = ws.call("list_notes");
  EXPECT_EQ(r["data"]["observation"]["result"], json({"seed", "alpha"}));

  // Tool errors are observations: the episode goes on.
  r = ws.call("fail", {{"message", "boom"}});
  EXPECT_EQ(r["data"]["observation"]["error"]["error_type"], "execution_error");
  EXPECT_NE(r["data"]["observation"]["error"]["message"].get<std::string>().find("boom"), std::string::npos);
  r = ws.call("add_note", {{"text", 5}});
  EXPECT_EQ(r["data"]["observation"]["error"]["error_type"], "invalid_args") << r.dump();
  r = ws.call("no_such_tool");
  EXPECT_EQ(r["data"]["observation"]["error"]["error_type"], "tool_not_found");

  r = ws.request({{"type", "state"}});
  EXPECT_EQ(r["type"], "state");
  EXPECT_EQ(r["data"]["step_count"], 5);

  // The verifier sees the episode's own world: "seed,alpha" passes.
  r = ws.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "seed,alpha"}}}});
  ASSERT_EQ(r["type"], "observation") << r.dump();
  EXPECT_EQ(r["data"]["done"], true);
  EXPECT_EQ(r["data"]["reward"], 1.0);
  EXPECT_EQ(r["data"]["observation"]["components"]["pass"], true);

  r = ws.call("list_notes");
  EXPECT_EQ(r["type"], "error");
  EXPECT_EQ(r["data"]["code"], "EPISODE_DONE");

  // A new episode on the same connection starts from the pristine world.
  r = ws.reset({{"task_id", written_}});
  ASSERT_EQ(r["type"], "observation");
  r = ws.request({{"type", "step"}, {"data", {{"type", "call_tool"}, {"tool_name", "submit"},
                                              {"arguments", {{"answer", "seed,alpha"}}}}}});
  EXPECT_EQ(r["data"]["reward"], 0.0);
  EXPECT_EQ(r["data"]["observation"]["components"]["score"], 0.25);
  EXPECT_EQ(r["data"]["observation"]["components"]["verdict"], "fail");
}

TEST_F(ServeEpisodes, WholeEpisodeOverMcp) {
  json r = http_post(port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "openenv/session/create"},
                                      {"params", {{"task_id", fixed_}}}}).body;
  ASSERT_TRUE(r.contains("result")) << r.dump();
  const std::string sid = r["result"]["session_id"];
  EXPECT_EQ(r["result"]["observation"]["observation"]["task_id"], fixed_);

  r = http_post(port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}, {"params", {{"session_id", sid}}}}).body;
  ASSERT_EQ(r["result"]["tools"].size(), 10u) << r.dump();
  EXPECT_TRUE(r["result"]["tools"][0].contains("inputSchema"));

  r = http_post(port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", "c"}, {"method", "tools/call"},
                                 {"params", {{"session_id", sid}, {"name", "add_note"}, {"arguments", {{"text", "m"}}}}}}).body;
  EXPECT_EQ(r["id"], "c");
  EXPECT_EQ(r["result"]["isError"], false) << r.dump();
  EXPECT_EQ(r["result"]["structuredContent"]["added"], "m");
  EXPECT_TRUE(r["result"]["reward"].is_null());

  r = http_post(port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", 4}, {"method", "tools/call"},
                                 {"params", {{"session_id", sid}, {"name", "submit"}, {"arguments", {{"answer", "42"}}}}}}).body;
  EXPECT_EQ(r["result"]["reward"], 1.0) << r.dump();
  EXPECT_EQ(r["result"]["done"], true);

  // Finished: the session is gone.
  r = http_post(port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/list"}, {"params", {{"session_id", sid}}}}).body;
  EXPECT_EQ(r["error"]["code"], -32602);
  // Protocol errors.
  EXPECT_EQ(http_call(port(), http::verb::post, "/mcp", "{not json").body["error"]["code"], -32700);
  EXPECT_EQ(http_post(port(), "/mcp", {{"jsonrpc", "2.0"}, {"id", 6}, {"method", "nope"}, {"params", {{"session_id", "x"}}}})
                .body["error"]["code"],
            -32602);
  EXPECT_EQ(http_post(port(), "/mcp", {{"jsonrpc", "1.0"}, {"id", 7}, {"method", "tools/list"}}).body["error"]["code"], -32600);
}

TEST_F(ServeEpisodes, VerifyGetRewardAndTasks) {
  HttpResult v = http_post(port(), "/verify", {{"task_id", fixed_}, {"answer", "42"}});
  ASSERT_EQ(v.status, 200) << v.raw;
  EXPECT_EQ(v.body["reward"], 1.0);
  EXPECT_EQ(v.body["components"]["pass"], true);
  v = http_post(port(), "/verify", {{"task_id", fixed_}, {"answer", "41"}});
  EXPECT_EQ(v.body["reward"], 0.0);
  EXPECT_EQ(v.body["components"]["score"], 0.25);
  EXPECT_EQ(http_post(port(), "/verify", {{"task_id", "nope"}, {"answer", "1"}}).status, 422);
  EXPECT_EQ(http_post(port(), "/verify", {{"answer", "1"}}).status, 422);

  HttpResult g = http_post(port(), "/get_reward",
                           {{"query", {"Q: answer? A: <answer>42</answer>", "Q: answer? 41", "whatever"}},
                            {"prompts", {"Q: answer?", "Q: answer?", "x"}},
                            {"labels", {fixed_, json({{"task_id", fixed_}}).dump(), "no-such-task"}}});
  ASSERT_EQ(g.status, 200) << g.raw;
  EXPECT_EQ(g.body["rewards"], json({1.0, 0.0, 0.0}));
  EXPECT_EQ(g.body["scores"], json({1.0, 0.0, 0.0}));
  EXPECT_EQ(g.body["extra_logs"]["verdict"], json({"pass", "fail", "error"}));

  HttpResult t = http_get(port(), "/tasks?limit=1");
  ASSERT_EQ(t.status, 200) << t.raw;
  EXPECT_EQ(t.body["total"], 2);
  EXPECT_EQ(t.body["tasks"].size(), 1u);
  EXPECT_EQ(t.body["next_offset"], 1);
  EXPECT_TRUE(t.body["tasks"][0].contains("reference_solution"));
  EXPECT_EQ(http_get(port(), "/tasks?difficulty=2").body["tasks"][0]["task_id"], written_);
  EXPECT_EQ(http_get(port(), "/tasks?limit=0").status, 422);
  EXPECT_EQ(http_get(port(), "/tasks?bogus=1").status, 422);
}

TEST_F(ServeEpisodes, OpenEnvDiscoveryAndStatelessRoutes) {
  EXPECT_EQ(http_get(port(), "/health").body["status"], "healthy");
  EXPECT_EQ(http_get(port(), "/metadata").body["name"], "envforge");
  EXPECT_EQ(http_get(port(), "/schema").body["action"]["title"], "CallToolAction");
  EXPECT_EQ(http_get(port(), "/nope").status, 404);
  EXPECT_EQ(http_call(port(), http::verb::delete_, "/health").status, 405);

  HttpResult r = http_post(port(), "/reset", {{"task_id", fixed_}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(r.body["reward"].is_null());
  EXPECT_EQ(r.body["observation"]["task_id"], fixed_);
  r = http_post(port(), "/reset", {{"seed", 3}});
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(http_post(port(), "/reset", {{"seed", -1}}).status, 422);

  r = http_post(port(), "/step", {{"task_id", written_}, {"action", {{"type", "call_tool"}, {"tool_name", "add_note"},
                                                                     {"arguments", {{"text", "z"}}}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["observation"]["result"]["added"], "z");
  // Stateless: the next step sees a fresh world.
  r = http_post(port(), "/step", {{"task_id", written_}, {"action", {{"type", "call_tool"}, {"tool_name", "list_notes"}}}});
  EXPECT_EQ(r.body["observation"]["result"], json({"seed"}));
  r = http_post(port(), "/step", {{"task_id", fixed_}, {"action", {{"type", "submit"}, {"answer", "42"}}}});
  EXPECT_EQ(r.body["reward"], 1.0);
  EXPECT_EQ(r.body["done"], true);
  EXPECT_EQ(http_get(port(), "/state").body["step_count"], 0);
}

TEST_F(ServeEpisodes, EpisodesOfOneEnvironmentSeeOnlyTheirOwnWrites) {
  WsClient a(port()), b(port());
  ASSERT_EQ(a.reset({{"task_id", written_}})["type"], "observation");
  ASSERT_EQ(b.reset({{"task_id", written_}})["type"], "observation");
  a.call("add_note", {{"text", "from-a"}});
  b.call("add_note", {{"text", "from-b"}});
  a.call("scratch_write", {{"text", "a-scratch"}});
  b.call("scratch_write", {{"text", "b-scratch"}});
  EXPECT_EQ(a.call("list_notes")["data"]["observation"]["result"], json({"seed", "from-a"}));
  EXPECT_EQ(b.call("list_notes")["data"]["observation"]["result"], json({"seed", "from-b"}));
  json sa = a.call("scratch_read")["data"]["observation"]["result"];
  json sb = b.call("scratch_read")["data"]["observation"]["result"];
  EXPECT_EQ(sa, json({{"file", {"a-scratch"}}, {"side", {"a-scratch"}}})) << sa.dump();
  EXPECT_EQ(sb, json({{"file", {"b-scratch"}}, {"side", {"b-scratch"}}})) << sb.dump();
  // Each verifier judges its own episode's world.
  EXPECT_EQ(a.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "seed,from-a"}}}})["data"]["reward"], 1.0);
  EXPECT_EQ(b.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "seed,from-a"}}}})["data"]["reward"], 0.0);
  // And the pristine world is untouched.
  EXPECT_EQ(http_post(port(), "/verify", {{"task_id", written_}, {"answer", "seed"}}).body["reward"], 1.0);
  // An episode that only read its copy is judged like the pristine world.
  WsClient c(port());
  ASSERT_EQ(c.reset({{"task_id", written_}})["type"], "observation");
  EXPECT_EQ(c.call("list_notes")["data"]["observation"]["result"], json({"seed"}));
  EXPECT_EQ(c.request({{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "seed"}}}})["data"]["reward"], 1.0);
}

TEST_F(ServeEpisodes, ToolTimeLimitEndsTheCallNotTheWorld) {
  WsClient ws(port());
  ASSERT_EQ(ws.reset({{"task_id", written_}})["type"], "observation");
  ws.call("add_note", {{"text", "kept"}});
  json r = ws.request({{"type", "step"},
                       {"data", {{"type", "call_tool"}, {"tool_name", "slow"}, {"arguments", {{"seconds", 20}}},
                                 {"timeout_s", 0.5}}}});
  ASSERT_EQ(r["type"], "observation") << r.dump();
  EXPECT_EQ(r["data"]["observation"]["error"]["error_type"], "timeout");
  // The soft limit stopped only the call: the episode's world is intact.
  EXPECT_EQ(ws.call("list_notes")["data"]["observation"]["result"], json({"seed", "kept"}));
}

TEST_F(ServeEpisodes, DisconnectMidEpisodeLeavesNothingBehind) {
  auto live = [&] { return http_get(port(), "/stats").body["live_episodes"].get<int>(); };
  ASSERT_TRUE(eventually([&] { return live() == 0; }));
  {
    WsClient gone(port());
    ASSERT_EQ(gone.reset({{"task_id", written_}})["type"], "observation");
    gone.call("add_note", {{"text", "x"}});
    EXPECT_EQ(gone.call("episode_dirs")["data"]["observation"]["result"].size(), 1u);
    EXPECT_EQ(live(), 1);
    gone.drop();
  }
  EXPECT_TRUE(eventually([&] { return live() == 0; }));
  // The sandbox holds no directory of the vanished episode: a new one sees only its own.
  WsClient next(port());
  ASSERT_EQ(next.reset({{"task_id", written_}})["type"], "observation");
  json dirs;
  ASSERT_TRUE(eventually([&] {
    dirs = next.call("episode_dirs")["data"]["observation"]["result"];
    return dirs.size() == 1;
  }, 10)) << dirs.dump();
  next.send({{"type", "close"}});
  EXPECT_EQ(next.read_until_closed(), 1000);
}

// Thousands of episodes pass through one box: the connections a tool keeps open to an
// episode's world must close with the episode, or the box runs out of descriptors.
TEST_F(ServeEpisodes, EndedEpisodesLeaveNoOpenWorlds) {
  auto open_files_now = [&] {
    WsClient probe(port());
    EXPECT_EQ(probe.reset({{"task_id", written_}})["type"], "observation");
    json n = probe.call("open_files")["data"]["observation"]["result"];
    probe.send({{"type", "close"}});
    probe.read_until_closed();
    return n.is_number() ? n.get<int>() : -1;
  };
  const int before = open_files_now();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 40; ++i) {
    WsClient ws(port());
    ASSERT_EQ(ws.reset({{"task_id", written_}})["type"], "observation");
    ASSERT_EQ(ws.call("cached_count")["data"]["observation"]["result"], 1) << i;
    ws.send({{"type", "close"}});
    ws.read_until_closed();
  }
  int after = 0;
  EXPECT_TRUE(eventually([&] { return (after = open_files_now()) < before + 10; })) << before << " -> " << after;
}

TEST_F(ServeEpisodes, MalformedFramesEndOnlyTheirConnection) {
  {
    WsClient ws(port());
    ws.send_text("{this is not json");
    json r = ws.recv();
    EXPECT_EQ(r["type"], "error");
    EXPECT_EQ(r["data"]["code"], "INVALID_JSON");
    EXPECT_EQ(ws.read_until_closed(), 1007);
  }
  {
    WsClient ws(port());
    ws.send_binary(std::string("\x00\x01\x02", 3));
    EXPECT_EQ(ws.recv()["data"]["code"], "INVALID_JSON");
  }
  {
    WsClient ws(port());
    EXPECT_EQ(ws.request({{"type", "fly"}})["data"]["code"], "UNKNOWN_TYPE");
    EXPECT_EQ(ws.request({{"type", "step"}, {"data", {{"type", "call_tool"}, {"tool_name", "x"}}}})["data"]["code"],
              "VALIDATION_ERROR");
    EXPECT_EQ(ws.reset({{"task_id", "missing"}})["data"]["code"], "VALIDATION_ERROR");
    EXPECT_EQ(ws.reset({{"seed", "x"}})["data"]["code"], "VALIDATION_ERROR");
    // Still usable after those.
    EXPECT_EQ(ws.reset({{"task_id", fixed_}})["type"], "observation");
  }
  {
    // Over the 1 MiB frame limit: the server closes with 1009, or resets the socket while the
    // client is still sending; either way only this connection ends.
    WsClient ws(port());
    int code = 0;
    try {
      ws.send_text(std::string(2 << 20, 'x'));
      code = ws.read_until_closed();
    } catch (const std::exception&) {
    }
    EXPECT_TRUE(code == 1009 || code == 0) << code;
  }
  // HTTP: an oversized body, and bytes that are not HTTP at all.
  EXPECT_EQ(http_call(port(), http::verb::post, "/verify", std::string(2 << 20, ' ')).status, 413);
  {
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()));
    asio::write(s, asio::buffer(std::string("\x16\x03\x01 garbage\r\n\r\n")));
    std::string got(256, '\0');
    beast::error_code ec;
    const size_t n = s.read_some(asio::buffer(got), ec);
    EXPECT_NE(got.substr(0, n).find("400"), std::string::npos) << got.substr(0, n);
  }
  EXPECT_EQ(http_call(port(), http::verb::post, "/verify", "{bad").status, 400);
  EXPECT_EQ(http_get(port(), "/health").body["status"], "healthy");
}

}  // namespace
}  // namespace envforge::testing
