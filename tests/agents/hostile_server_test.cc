// The OpenAI-compatible backend against a hostile stand-in server on loopback: replies that
// trickle, stall, never end, carry bytes that are not UTF-8, or cut a stream inside an event.
// Every one must end the call in bounded time with an error naming the endpoint.
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "agents/openai_backend.h"
#include "agents/rollout.h"
#include "model/text/utf8.h"
#include "tests/agents/stand_in_server.h"

namespace envforge::agents {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::ScriptedHttpReply;
using testing::StandInServer;

json hostile_completion(const std::string& content) {
  return {{"id", "c"}, {"object", "chat.completion"}, {"model", "stand-in"},
          {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}},
                        {"finish_reason", "stop"}}}}};
}

json hostile_delta(const std::string& content, json finish = nullptr) {
  return {{"id", "c"}, {"object", "chat.completion.chunk"}, {"model", "stand-in"},
          {"choices", {{{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", finish}}}}};
}

struct HostileServerTest : ::testing::Test {
  StandInServer server;
  OpenAIOptions options() {
    OpenAIOptions o;
    o.base_url = server.base_url();
    o.model = "stand-in-model";
    o.api_key_env = "ENVFORGE_TEST_HOSTILE_KEY";
    o.request_timeout = milliseconds(30000);
    o.idle_timeout = milliseconds(0);
    o.call_timeout = milliseconds(0);
    o.retry.max_retries = 0;
    o.sleep = [](milliseconds) {};
    return o;
  }
  std::string endpoint() const { return server.base_url() + "/chat/completions"; }
  static ChatRequest ask(bool stream = false) {
    ChatRequest r;
    model::ChatMessage m;
    m.role = "user";
    m.content = "hi";
    r.messages = {m};
    r.stream = stream;
    return r;
  }
  // The error of a call that must fail.
  static BackendError failure(OpenAIBackend& backend, const ChatRequest& request) {
    try {
      backend.chat(request);
    } catch (const BackendError& e) {
      return e;
    }
    ADD_FAILURE() << "the call did not fail";
    return BackendError(BackendErrorKind::kConfig, "");
  }
};

TEST_F(HostileServerTest, AOneByteTrickleIsCutByTheAttemptDeadlineAndTheCallDeadlineEndsTheRetries) {
  for (int i = 0; i < 12; ++i) {
    auto trickle = ScriptedHttpReply::json(hostile_completion("never finished"));
    trickle.trickle = milliseconds(100);  // faster than any idle timeout, slower than any reply
    trickle.endless = true;
    server.enqueue(trickle);
  }
  OpenAIOptions o = options();
  o.request_timeout = milliseconds(1000);
  o.idle_timeout = milliseconds(1000);
  o.call_timeout = milliseconds(2500);
  o.retry.max_retries = 10;
  OpenAIBackend backend(o);
  const BackendError e = failure(backend, ask());
  EXPECT_EQ(e.kind(), BackendErrorKind::kTimeout) << e.what();
  EXPECT_NE(std::string(e.what()).find(endpoint()), std::string::npos) << e.what();
  // Ten retries of a one-second attempt would take eleven requests; the call's 2.5 s deadline
  // stops them long before.
  EXPECT_LT(server.request_count(), 8u) << e.what();
}

TEST_F(HostileServerTest, AReplyThatStallsIsCutByTheIdleTimeoutStreamedOrNot) {
  auto stalled = ScriptedHttpReply::json(hostile_completion("half"));
  stalled.stall_after = 10;
  server.enqueue(stalled);
  auto stalled_stream = ScriptedHttpReply::stream({hostile_delta("Hel"), hostile_delta("lo", "stop")});
  stalled_stream.stall_after = 40;
  server.enqueue(stalled_stream);
  OpenAIOptions o = options();
  o.idle_timeout = milliseconds(1000);
  OpenAIBackend backend(o);
  for (bool stream : {false, true}) {
    const BackendError e = failure(backend, ask(stream));
    EXPECT_EQ(e.kind(), BackendErrorKind::kTimeout) << e.what();
    EXPECT_NE(std::string(e.what()).find("idle timeout"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(endpoint()), std::string::npos) << e.what();
  }
}

TEST_F(HostileServerTest, AnEndlessReplyFailsAtTheSizeCapNamingTheEndpointAndIsNotRetried) {
  auto endless = ScriptedHttpReply::json(nullptr);
  endless.body = R"({"choices":[{"message":{"role":"assistant","content":")";
  endless.endless = true;
  server.enqueue(endless);
  auto endless_stream = ScriptedHttpReply::stream({hostile_delta("a")}, false);
  endless_stream.endless = true;
  endless_stream.filler = "data: " + hostile_delta(std::string(1000, 'a')).dump() + "\n\n";
  server.enqueue(endless_stream);
  OpenAIOptions o = options();
  o.max_reply_bytes = 1 << 20;
  o.retry.max_retries = 3;
  OpenAIBackend backend(o);
  for (bool stream : {false, true}) {
    const BackendError e = failure(backend, ask(stream));
    EXPECT_EQ(e.kind(), BackendErrorKind::kProtocol) << e.what();
    EXPECT_NE(std::string(e.what()).find("size cap"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(endpoint()), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.request_count(), 2u) << "an endless reply is not asked for again";
}

TEST_F(HostileServerTest, BodiesThatAreNotUtf8GiveErrorsThatAre) {
  // A Chinese 503 page cut inside a character, and raw invalid bytes in a 200 reply.
  const std::string page = "<html>\xe6\x9c\x8d\xe5\x8a\xa1\xe6\x9a\x82\xe6\x97\xb6\xe4\xb8\x8d\xe5\x8f\xaf\xe7\x94\xa8";
  auto busy = ScriptedHttpReply::json(nullptr, 503);
  busy.content_type = "text/html; charset=utf-8";
  busy.body = page.substr(0, page.size() - 1);
  server.enqueue(busy);
  auto raw = ScriptedHttpReply::json(nullptr);
  raw.content_type = "text/plain";
  raw.body = "\xff\xfe garbage \xc3\x28 \xe2\x82 " + std::string(300, '\x80');
  server.enqueue(raw);
  auto long_cut = ScriptedHttpReply::json(nullptr);
  long_cut.content_type = "text/html";
  long_cut.body = std::string(199, 'x') + "\xe4\xb8\x8d\xe5\x8f\xaf";  // the 200-byte cut falls inside
  server.enqueue(long_cut);
  OpenAIBackend backend(options());
  for (int i = 0; i < 3; ++i) {
    const BackendError e = failure(backend, ask());
    const std::string what = e.what();
    EXPECT_TRUE(model::text::is_valid_utf8(what)) << i << ": " << what;
    EXPECT_NE(what.find(endpoint()), std::string::npos) << what;
    if (i == 0) {
      EXPECT_NE(what.find("\xe6\x9c\x8d\xe5\x8a\xa1"), std::string::npos) << "the readable part stays";
    }
    if (i == 1) {
      EXPECT_NE(what.find("\xef\xbf\xbd garbage"), std::string::npos) << what;
    }
  }
}

TEST_F(HostileServerTest, AStreamCutInsideAnEventDropsThePartialEventAndIsRetried) {
  auto cut = ScriptedHttpReply::stream({hostile_delta("Hel")}, false);
  cut.raw_sse = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo wor";
  cut.end_stream_abruptly = true;
  server.enqueue(cut);
  server.enqueue(ScriptedHttpReply::stream({hostile_delta("Hello"), hostile_delta("", "stop")}));
  OpenAIOptions o = options();
  o.retry.max_retries = 2;
  OpenAIBackend backend(o);
  int resets = 0;
  ChatResponse r = backend.chat(ask(true), [&](const StreamEvent& ev) {
    resets += ev.kind == StreamEvent::Kind::kReset;
  });
  EXPECT_EQ(r.message.content, "Hello");
  EXPECT_EQ(r.timing.attempts, 2);
  EXPECT_EQ(resets, 1);
}

TEST_F(HostileServerTest, StreamingErrorsNameTheEndpoint) {
  server.enqueue(ScriptedHttpReply::stream({json{{"id", "c"}, {"usage", {{"prompt_tokens", 1}}}}}));
  OpenAIBackend backend(options());
  const BackendError e = failure(backend, ask(true));
  EXPECT_EQ(e.kind(), BackendErrorKind::kProtocol) << e.what();
  EXPECT_NE(std::string(e.what()).find(endpoint()), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("none carried a choice"), std::string::npos) << e.what();
}

TEST_F(HostileServerTest, FailuresAreShownOnTheConsoleOncePerCauseWithTheEndpoint) {
  std::ostringstream console;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(console));
  spdlog::set_default_logger(capture);
  for (int i = 0; i < 3; ++i) {
    auto html = ScriptedHttpReply::json(nullptr);
    html.content_type = "text/html";
    html.body = "<html>proxy error " + std::to_string(i) + "</html>";
    server.enqueue(html);
  }
  for (int i = 0; i < 2; ++i) server.enqueue(ScriptedHttpReply::json({{"id", "x"}, {"object", "chat.completion"}}));
  OpenAIBackend backend(options());
  for (int i = 0; i < 5; ++i) failure(backend, ask());
  spdlog::set_default_logger(previous);
  const std::string text = console.str();
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("reply is not JSON"), 1u) << text;
  EXPECT_EQ(count("missing \"choices\""), 1u) << text;
  EXPECT_EQ(count(endpoint()), 2u) << text;
}

TEST_F(HostileServerTest, ARolloutHasAnOverallTimeLimitAndRunningOutIsARecordedFailure) {
  auto trickle = ScriptedHttpReply::json(hostile_completion("never finished"));
  trickle.trickle = milliseconds(100);
  trickle.endless = true;
  server.enqueue(trickle);
  OpenAIBackend backend(options());  // 30 s per attempt of its own
  RolloutEnvironment env;
  env.verify_py = "def verify(answer, world, task):\n    return {'pass': True, 'score': 1.0, 'reason': 'any'}\n";
  RolloutTask task{"say hi", json::object(), nullptr};
  RolloutOptions ro;
  ro.time_limit = milliseconds(1500);
  const RolloutResult r = run_rollout(backend, env, task, ro, 1);
  EXPECT_EQ(r.trajectory.stop_reason, StopReason::kTimeBudget) << r.trajectory.error;
  EXPECT_FALSE(r.answered);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.trajectory.error.find(endpoint()), std::string::npos) << r.trajectory.error;
}

}  // namespace
}  // namespace envforge::agents
