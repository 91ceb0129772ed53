// The endpoint under load and abuse: concurrent clients batched together, n choices, raw
// streams, hostile bodies, slow and vanishing clients, a full queue, the bearer token.
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "model/batch_engine.h"
#include "tests/endpoint/endpoint_fixture.h"

namespace envforge::testing {
namespace {

using agents::ChatRequest;
using agents::ChatResponse;
using nlohmann::json;
namespace asio = boost::asio;
using std::chrono::milliseconds;

json user_body(const std::string& text, json extra = json::object()) {
  json body = {{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", text}}}}, {"max_tokens", 6}};
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  return body;
}

// A raw connection that sends what it is told and reads what comes back.
struct RawClient {
  asio::io_context io;
  asio::ip::tcp::socket sock{io};
  explicit RawClient(uint16_t port) { sock.connect({asio::ip::make_address("127.0.0.1"), port}); }
  void send(const std::string& bytes) { asio::write(sock, asio::buffer(bytes)); }
  static std::string post(const std::string& body, const std::string& target = "/v1/chat/completions") {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  // Reads until `marker` shows up or the connection ends; returns all read.
  std::string read_until(const std::string& marker) {
    std::string got;
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = sock.read_some(asio::buffer(buf), ec);
      got.append(buf, n);
      if (ec || got.find(marker) != std::string::npos) return got;
    }
  }
};

bool wait_for(const std::function<bool()>& done, milliseconds limit = milliseconds(60000)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

TEST(EndpointServing, SixteenConcurrentClientsAreBatchedAndEachGetsWhatItGetsAlone) {
  agents::EmbeddedBackend backend(tiny_options());
  RunningEndpoint ep(backend);
  auto request = [](int i) {
    ChatRequest r;
    r.messages = {chat_msg("system", std::string(64, 's') + " shared system prompt"),
                  chat_msg("user", "Client " + std::to_string(i) + " asks something.")};
    r.sampling.max_tokens = 8;
    r.sampling.temperature = i % 2 ? 0.0 : 0.8;
    r.sampling.seed = 100 + i;
    r.stream = i % 3 == 0;
    return r;
  };
  std::vector<ChatResponse> alone;
  for (int i = 0; i < 16; ++i) alone.push_back(backend.chat(request(i)));
  EXPECT_EQ(backend.engine().stats().max_batch, 1);

  agents::OpenAIOptions o = ep.client_options();
  o.max_concurrency = 16;
  agents::OpenAIBackend client(o);
  std::vector<ChatResponse> got(16);
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) clients.emplace_back([&, i] { got[i] = client.chat(request(i), [](const agents::StreamEvent&) {}); });
  for (auto& t : clients) t.join();
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(got[i].message.content, alone[i].message.content) << i;
    EXPECT_EQ(got[i].finish_reason, alone[i].finish_reason) << i;
    EXPECT_EQ(got[i].usage.completion_tokens, alone[i].usage.completion_tokens) << i;
  }
  EXPECT_GT(backend.engine().stats().max_batch, 1);
  EXPECT_EQ(ep.endpoint().stats().in_flight, 0);
}

TEST(EndpointServing, ModelsHealthNChoicesAndARawStreamWithUsage) {
  agents::EmbeddedBackend backend(tiny_options());
  RunningEndpoint ep(backend);
  RawReply health = http_call(ep.port(), "GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json["status"], "ok");
  RawReply models = http_call(ep.port(), "GET", "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.json["object"], "list");
  EXPECT_EQ(models.json["data"][0]["id"], "tiny");

  // n choices share the prompt; seeded, each its own draw; usage sums them.
  RawReply three = http_call(ep.port(), "POST", "/v1/chat/completions",
                             user_body("Pick.", {{"n", 3}, {"temperature", 1.0}, {"seed", 9}}).dump());
  ASSERT_EQ(three.status, 200) << three.body;
  EXPECT_EQ(three.json["object"], "chat.completion");
  ASSERT_EQ(three.json["choices"].size(), 3u);
  long total = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(three.json["choices"][i]["index"], i);
    EXPECT_EQ(three.json["choices"][i]["message"]["role"], "assistant");
  }
  // Choice i is the request with seed 9 + i alone.
  RawReply second = http_call(ep.port(), "POST", "/v1/chat/completions",
                              user_body("Pick.", {{"temperature", 1.0}, {"seed", 10}}).dump());
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.json["choices"][0]["message"], three.json["choices"][1]["message"]);
  total = three.json["usage"]["completion_tokens"].get<long>();
  EXPECT_GE(total, 3);
  EXPECT_EQ(three.json["usage"]["total_tokens"], three.json["usage"]["prompt_tokens"].get<long>() + total);

  // A raw stream: the role first, deltas, a finish reason, the usage chunk, [DONE].
  RawClient raw(ep.port());
  raw.send(RawClient::post(user_body("Stream.", {{"stream", true}, {"stream_options", {{"include_usage", true}}}}).dump()));
  const std::string all = raw.read_until("data: [DONE]");
  EXPECT_NE(all.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(all.find("text/event-stream"), std::string::npos);
  const std::size_t role = all.find("\"role\":\"assistant\"");
  const std::size_t finish = all.find("\"finish_reason\":\"length\"");
  const std::size_t usage = all.find("\"usage\":{");
  const std::size_t done = all.find("data: [DONE]");
  ASSERT_NE(role, std::string::npos) << all;
  ASSERT_NE(finish, std::string::npos) << all;
  ASSERT_NE(usage, std::string::npos) << all;
  EXPECT_LT(role, finish);
  EXPECT_LT(finish, usage);
  EXPECT_LT(usage, done);
}

// The JSON of every "data: {...}" event of a raw (chunked) stream, in order.
std::vector<json> stream_events(const std::string& raw) {
  std::vector<json> out;
  for (std::size_t at = raw.find("data: {"); at != std::string::npos; at = raw.find("data: {", at + 1)) {
    const std::size_t end = raw.find("\n\n", at);
    if (end == std::string::npos) break;
    out.push_back(json::parse(raw.substr(at + 6, end - at - 6)));
  }
  return out;
}

TEST(EndpointServing, LogprobsOfEveryGeneratedTokenInRepliesAndInStreams) {
  agents::EmbeddedBackend backend(tiny_options());
  RunningEndpoint ep(backend);
  const json ask = {{"logprobs", true}, {"top_logprobs", 3}, {"temperature", 0}, {"max_tokens", 8}};
  RawReply whole = http_call(ep.port(), "POST", "/v1/chat/completions", user_body("Count.", ask).dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json& lp = whole.json["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << whole.body;
  const json& content = lp["content"];
  ASSERT_TRUE(content.is_array());
  ASSERT_FALSE(content.empty());
  EXPECT_LE(content.size(), whole.json["usage"]["completion_tokens"].get<std::size_t>());
  for (const json& t : content) {
    ASSERT_TRUE(t["token"].is_string());
    ASSERT_TRUE(t["bytes"].is_array());
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(t["top_logprobs"][0]["bytes"], t["bytes"]);
    EXPECT_DOUBLE_EQ(t["top_logprobs"][0]["logprob"].get<double>(), t["logprob"].get<double>());
    EXPECT_GE(t["top_logprobs"][1]["logprob"].get<double>(), t["top_logprobs"][2]["logprob"].get<double>());
  }
  // Without logprobs: null, as OpenAI answers.
  RawReply plain = http_call(ep.port(), "POST", "/v1/chat/completions", user_body("Count.", {{"max_tokens", 2}}).dump());
  ASSERT_EQ(plain.status, 200);
  EXPECT_TRUE(plain.json["choices"][0]["logprobs"].is_null());

  // Streamed: every token's entry rides on some chunk, in order, and they are the reply's.
  RawClient raw(ep.port());
  json streamed_body = user_body("Count.", ask);
  streamed_body["stream"] = true;
  raw.send(RawClient::post(streamed_body.dump()));
  json gathered = json::array();
  for (const json& ev : stream_events(raw.read_until("data: [DONE]"))) {
    const json& l = ev["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const json& t : l["content"]) gathered.push_back(t);
  }
  EXPECT_EQ(gathered, content);
}

TEST(EndpointServing, HostileRequestsGetOpenAIErrorsAndTheServerKeepsServing) {
  agents::EmbeddedBackend backend(tiny_options());
  server::EndpointOptions o;
  o.max_body_bytes = 64 << 10;
  o.limits.max_n = 4;
  RunningEndpoint ep(backend, o);
  struct Case {
    std::string method, target, body;
    int status;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/chat/completions", "garbage{{", 400, ""},
      {"POST", "/v1/chat/completions", "{\"messages\": 7}", 400, "messages"},
      {"POST", "/v1/chat/completions", user_body("x", {{"n", 99}}).dump(), 400, "n"},
      {"POST", "/v1/chat/completions", user_body("x", {{"tool_choice", "required"}}).dump(), 400, "tool_choice"},
      {"POST", "/v1/chat/completions", user_body(std::string(3000, 'a')).dump(), 400, "messages"},
      {"POST", "/v1/chat/completions", user_body("x", {{"model", "other"}}).dump(), 404, "model"},
      {"POST", "/v1/chat/completions", std::string(100 << 10, '{'), 413, ""},
      {"GET", "/v1/chat/completions", "", 405, ""},
      {"GET", "/v2/nothing", "", 404, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target + " " + c.body.substr(0, 80));
    RawReply r = http_call(ep.port(), c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    ASSERT_TRUE(r.json.is_object()) << r.body;
    EXPECT_TRUE(r.json["error"]["message"].is_string());
    EXPECT_TRUE(r.json["error"]["type"].is_string());
    EXPECT_EQ(r.json["error"]["param"], c.param.empty() ? json(nullptr) : json(c.param));
  }
  RawReply too_long = http_call(ep.port(), "POST", "/v1/chat/completions", user_body(std::string(3000, 'a')).dump());
  EXPECT_EQ(too_long.json["error"]["code"], "context_length_exceeded");
  EXPECT_NE(too_long.json["error"]["message"].get<std::string>().find("the model's context is 1024"), std::string::npos);

  // Unknown fields are ignored; the server still answers after all of the above.
  RawReply fine = http_call(ep.port(), "POST", "/v1/chat/completions",
                            user_body("x", {{"frobnicate", {{"a", 1}}}, {"user", "u"}, {"presence_penalty", 0}}).dump());
  EXPECT_EQ(fine.status, 200) << fine.body;

  // A client that trickles its request byte by byte is still served.
  {
    RawClient slow(ep.port());
    const std::string req = RawClient::post(user_body("slow").dump());
    for (char c : req) {
      slow.send(std::string(1, c));
      std::this_thread::sleep_for(milliseconds(1));
    }
    EXPECT_NE(slow.read_until("\"chat.completion\"").find("HTTP/1.1 200"), std::string::npos);
  }
  // curl's "Expect: 100-continue": the go-ahead comes before the body is sent.
  {
    RawClient curl_like(ep.port());
    const std::string body = user_body("x").dump();
    curl_like.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n");
    EXPECT_NE(curl_like.read_until("\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
    curl_like.send(body);
    EXPECT_NE(curl_like.read_until("\"chat.completion\"").find("HTTP/1.1 200"), std::string::npos);
  }
  // Garbage that is not HTTP gets a 400 and the connection closes.
  {
    RawClient junk(ep.port());
    junk.send("\x16\x03\x01 this is not http\r\n\r\n");
    EXPECT_NE(junk.read_until("\r\n\r\n").find("400"), std::string::npos);
  }
}

TEST(EndpointServing, AClientLeavingMidStreamCancelsItsRequestAndOthersAreServed) {
  agents::EmbeddedBackend backend(tiny_options());
  RunningEndpoint ep(backend);
  {
    RawClient leaver(ep.port());
    leaver.send(RawClient::post(user_body("Go on and on.", {{"stream", true}, {"max_tokens", 900}}).dump()));
    leaver.read_until("\"content\"");  // generation has started
  }  // the connection closes here
  ASSERT_TRUE(wait_for([&] { return ep.endpoint().stats().cancelled >= 1; })) << "the request was not cancelled";
  ASSERT_TRUE(wait_for([&] { return ep.endpoint().stats().in_flight == 0; }));
  agents::OpenAIBackend client(ep.client_options());
  ChatRequest r;
  r.messages = {chat_msg("user", "Still there?")};
  r.sampling.max_tokens = 4;
  EXPECT_EQ(client.chat(r).usage.completion_tokens, backend.chat(r).usage.completion_tokens);
  // It stopped early: far fewer tokens than asked for were decoded.
  EXPECT_LT(backend.engine().stats().decode_tokens, 600);
}

TEST(EndpointServing, AFullQueueAnswers429WithRetryAfter) {
  agents::EmbeddedBackend backend(tiny_options());
  server::EndpointOptions o;
  o.max_queued = 1;
  RunningEndpoint ep(backend, o);
  RawClient busy(ep.port());
  busy.send(RawClient::post(user_body("Keep going.", {{"stream", true}, {"max_tokens", 900}}).dump()));
  busy.read_until("\"content\"");
  RawReply refused = http_call(ep.port(), "POST", "/v1/chat/completions", user_body("me too").dump());
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.retry_after, "1");
  EXPECT_EQ(refused.json["error"]["type"], "rate_limit_error");
  EXPECT_EQ(refused.json["error"]["code"], "server_busy");
  EXPECT_EQ(ep.endpoint().stats().rejected_busy, 1);
  busy.sock.close();
  ASSERT_TRUE(wait_for([&] { return ep.endpoint().stats().in_flight == 0; }));
  EXPECT_EQ(http_call(ep.port(), "POST", "/v1/chat/completions", user_body("now").dump()).status, 200);
}

TEST(EndpointServing, ATokenIsRequiredWhenSetAndBeyondLoopback) {
  agents::EmbeddedBackend backend(tiny_options());
  server::EndpointOptions bad;
  bad.host = "0.0.0.0";
  try {
    server::Endpoint e(backend, bad);
    FAIL() << "bound beyond loopback without a token";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a token"), std::string::npos) << e.what();
  }
  server::EndpointOptions o;
  o.token = "s3cret";
  RunningEndpoint ep(backend, o);
  EXPECT_EQ(http_call(ep.port(), "GET", "/health").status, 200);  // probes need no token
  RawReply none = http_call(ep.port(), "GET", "/v1/models");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json["error"]["type"], "authentication_error");
  EXPECT_EQ(http_call(ep.port(), "GET", "/v1/models", "", "wrong").status, 401);
  EXPECT_EQ(http_call(ep.port(), "POST", "/v1/chat/completions", user_body("x").dump(), "s3cre").status, 401);
  EXPECT_EQ(http_call(ep.port(), "GET", "/v1/models", "", "s3cret").status, 200);
  // The agents' client sends its key from the environment.
  ChatRequest r;
  r.messages = {chat_msg("user", "hi")};
  r.sampling.max_tokens = 3;
  unsetenv("ENVFORGE_TEST_ENDPOINT_KEY");
  agents::OpenAIBackend anonymous(ep.client_options());
  try {
    anonymous.chat(r);
    FAIL() << "served without a token";
  } catch (const agents::BackendError& e) {
    EXPECT_EQ(e.http_status(), 401);
  }
  setenv("ENVFORGE_TEST_ENDPOINT_KEY", "s3cret", 1);
  agents::OpenAIBackend keyed(ep.client_options());
  EXPECT_EQ(keyed.chat(r).message.content, backend.chat(r).message.content);
  unsetenv("ENVFORGE_TEST_ENDPOINT_KEY");
}

}  // namespace
}  // namespace envforge::testing
