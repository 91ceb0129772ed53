#include <fstream>

#include <gtest/gtest.h>

#include "agents/scripted_backend.h"

namespace envforge::agents {
namespace {

using nlohmann::json;

ChatRequest ask(const std::string& text) {
  ChatRequest r;
  model::ChatMessage m;
  m.role = "user";
  m.content = text;
  r.messages.push_back(m);
  return r;
}

TEST(ScriptedBackend, ReplaysEveryReplyFormInOrderAndRecordsRequests) {
  json script = {
      {"replies",
       {{{"content", "first"}, {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 2}}}},
        {{"message",
          {{"reasoning", "hmm"},
           {"tool_calls", {{{"name", "lookup"}, {"arguments", {{"q", "x"}}}}}}}}},
        {{"choices",
          {{{"message", {{"role", "assistant"}, {"content", "recorded"}}}, {"finish_reason", "stop"}}}}},
        {{"error", {{"kind", "http"}, {"status", 503}, {"message", "scripted outage"}}}}}}};
  ScriptedBackend b(script);
  ChatResponse r1 = b.chat(ask("a"));
  EXPECT_EQ(r1.message.content, "first");
  EXPECT_EQ(r1.finish_reason, "stop");
  EXPECT_TRUE(r1.usage.reported);
  EXPECT_EQ(r1.usage.completion_tokens, 2);
  ChatResponse r2 = b.chat(ask("b"));
  EXPECT_EQ(r2.message.reasoning, "hmm");
  ASSERT_EQ(r2.message.tool_calls.size(), 1u);
  EXPECT_EQ(r2.message.tool_calls[0].id, "call_1_0");
  EXPECT_EQ(r2.message.tool_calls[0].arguments, (json{{"q", "x"}}));
  EXPECT_EQ(r2.finish_reason, "tool_calls");
  EXPECT_EQ(b.chat(ask("c")).message.content, "recorded");
  try {
    b.chat(ask("d"));
    FAIL();
  } catch (const BackendError& e) {
    EXPECT_EQ(e.kind(), BackendErrorKind::kHttp);
    EXPECT_EQ(e.http_status(), 503);
  }
  try {
    b.chat(ask("e"));
    FAIL();
  } catch (const BackendError& e) {
    EXPECT_EQ(e.kind(), BackendErrorKind::kExhausted);
    EXPECT_NE(std::string(e.what()).find("all 4 replies used"), std::string::npos) << e.what();
  }
  auto reqs = b.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[3].messages[0].content, "d");
}

TEST(ScriptedBackend, StreamsTheReplyToTheCallback) {
  ScriptedBackend b(json{{"replies", {{{"content", "hi"}, {"reasoning", "r"},
                                        {"tool_calls", {{{"id", "c1"}, {"name", "f"}, {"arguments", "{}"}}}}}}}});
  ChatRequest req = ask("x");
  req.stream = true;
  std::vector<StreamEvent::Kind> kinds;
  b.chat(req, [&](const StreamEvent& ev) { kinds.push_back(ev.kind); });
  EXPECT_EQ(kinds, (std::vector<StreamEvent::Kind>{StreamEvent::Kind::kReasoning,
                                                   StreamEvent::Kind::kContent,
                                                   StreamEvent::Kind::kToolCall}));
}

TEST(ScriptedBackend, RejectsBadScriptsNamingTheEntry) {
  auto bad = [](const json& script, const std::string& fragment) {
    try {
      ScriptedBackend b(script, "t.json");
      ADD_FAILURE() << "accepted " << script.dump();
    } catch (const BackendError& e) {
      EXPECT_EQ(e.kind(), BackendErrorKind::kConfig);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  bad(json::array(), "expected a JSON object");
  bad(json::object(), "missing \"replies\"");
  bad({{"replies", {{{"content", 3}}}}}, "replies[0].content: expected a string");
  bad({{"replies", {{{"content", "ok"}}, {{"tool_calls", {{{"arguments", "{}"}}}}}}}},
      "replies[1].tool_calls[0]: missing \"name\"");
  bad({{"replies", {{{"error", {{"kind", "meteor"}}}}}}}, "unknown kind \"meteor\"");
  bad({{"replies", {{{"choices", json::array()}}}}}, "replies[0]: malformed chat completion reply");
}

TEST(ScriptedBackend, LoadsFromAFileAndRefusesBrokenJson) {
  std::string path = ::testing::TempDir() + "/scripted_backend_test.json";
  {
    std::ofstream(path) << R"({"replies": [{"content": "from file"}], "repeat": true})";
  }
  auto b = ScriptedBackend::from_file(path);
  EXPECT_EQ(b->chat(ask("1")).message.content, "from file");
  EXPECT_EQ(b->chat(ask("2")).message.content, "from file");  // repeat
  EXPECT_EQ(b->describe(), "scripted:scripted_backend_test.json");
  {
    std::ofstream(path) << R"({"replies": [)";
  }
  try {
    ScriptedBackend::from_file(path);
    FAIL();
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

}  // namespace
}  // namespace envforge::agents
