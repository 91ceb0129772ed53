// The agents' OpenAI-backend scenarios that apply to a real server, run against the endpoint:
// client errors are not retried, a 429 is retried after the server's Retry-After, the
// conversation and tools reach the model, a broken connection surfaces as a connection error.
#include <gtest/gtest.h>

#include "tests/endpoint/endpoint_fixture.h"

namespace envforge::testing {
namespace {

using agents::BackendError;
using agents::BackendErrorKind;
using agents::ChatRequest;
using std::chrono::milliseconds;

ChatRequest hello() {
  ChatRequest r;
  r.messages = {chat_msg("user", "hello")};
  r.sampling.max_tokens = 4;
  return r;
}

TEST(EndpointAgentsCases, ClientErrorsAreNotRetried) {
  agents::EmbeddedBackend backend(tiny_options());
  RunningEndpoint ep(backend);
  agents::OpenAIOptions o = ep.client_options("no-such-model");
  o.retry.max_retries = 3;
  std::vector<milliseconds> sleeps;
  o.sleep = [&](milliseconds d) { sleeps.push_back(d); };
  agents::OpenAIBackend client(o);
  try {
    client.chat(hello());
    FAIL() << "expected an error";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.kind(), BackendErrorKind::kHttp);
    EXPECT_EQ(e.http_status(), 404);
    EXPECT_NE(std::string(e.what()).find("`no-such-model` does not exist"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(sleeps.empty());
  EXPECT_EQ(ep.endpoint().stats().requests, 1);
}

TEST(EndpointAgentsCases, A429IsRetriedAfterTheServersRetryAfter) {
  agents::EmbeddedBackend backend(tiny_options());
  server::EndpointOptions eo;
  eo.max_queued = 1;
  RunningEndpoint ep(backend, eo);
  // Someone else holds the only slot with a long stream.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket busy(io);
  busy.connect({boost::asio::ip::make_address("127.0.0.1"), ep.port()});
  const std::string body =
      R"({"model":"tiny","stream":true,"max_tokens":900,"messages":[{"role":"user","content":"go"}]})";
  boost::asio::write(busy, boost::asio::buffer("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                               std::to_string(body.size()) + "\r\n\r\n" + body));
  char first[64];
  busy.read_some(boost::asio::buffer(first));  // the stream has begun

  agents::OpenAIOptions o = ep.client_options();
  o.retry.max_retries = 2;
  std::vector<milliseconds> sleeps;
  o.sleep = [&](milliseconds d) {  // while the client waits, the slot frees up
    sleeps.push_back(d);
    busy.close();
    for (int i = 0; i < 6000 && ep.endpoint().stats().in_flight > 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  };
  agents::OpenAIBackend client(o);
  agents::ChatResponse r = client.chat(hello());
  EXPECT_EQ(r.timing.attempts, 2);
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_EQ(sleeps[0], milliseconds(1000));
  EXPECT_EQ(r.message.content, backend.chat(hello()).message.content);
  EXPECT_EQ(ep.endpoint().stats().rejected_busy, 1);
}

TEST(EndpointAgentsCases, ABrokenConnectionIsAConnectionError) {
  agents::EmbeddedBackend backend(tiny_options());
  int dead_port;
  {
    RunningEndpoint gone(backend);
    dead_port = gone.port();
  }
  agents::OpenAIOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/v1";
  o.model = "tiny";
  o.retry.max_retries = 1;
  o.sleep = [](milliseconds) {};
  agents::OpenAIBackend client(o);
  try {
    client.chat(hello());
    FAIL() << "expected an error";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.kind(), BackendErrorKind::kConnection) << e.what();
  }
}

}  // namespace
}  // namespace envforge::testing
