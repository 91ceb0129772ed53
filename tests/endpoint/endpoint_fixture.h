// A real endpoint on 127.0.0.1 (an ephemeral port) over an embedded backend on a tiny bundled
// checkpoint, a raw HTTP client for what well-behaved clients never send, and the agents'
// OpenAI backend pointed at it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agents/embedded_backend.h"
#include "agents/openai_backend.h"
#include "model/text/chat_tokens.h"
#include "model/text/tokenizer.h"
#include "server/openai_endpoint.h"
#include "tests/endpoint/scripted_runner.h"

namespace envforge::testing {

inline const std::string kTinyModel = std::string(ENVFORGE_SOURCE_DIR) + "/model/checkpoints/tiny-moe-bf16";
// A context of 4096 tokens: room for DeepSeek's tool instructions (the tiny tokenizer is
// byte-level, one token per byte).
inline const std::string kToolModel = std::string(ENVFORGE_SOURCE_DIR) + "/model/checkpoints/tiny-moe-fp8";

inline agents::EmbeddedOptions tiny_options(const std::string& dir = kTinyModel) {
  agents::EmbeddedOptions o{dir};
  o.device = "cpu";
  o.default_max_tokens = 12;
  return o;
}

// Options of a backend whose model writes `completion` (then the end-of-sentence token).
inline agents::EmbeddedOptions scripted_options(const std::string& completion) {
  agents::EmbeddedOptions o = tiny_options(kToolModel);
  auto tok = model::text::Tokenizer::from_file(kToolModel + "/tokenizer.json");
  std::vector<int32_t> script = tok.encode(completion);
  const int32_t eos = static_cast<int32_t>(*tok.token_to_id(model::text::kEosToken));
  o.prefix_cache_pages = 0;
  o.wrap_runner = [script, eos](std::unique_ptr<model::SequenceRunner> inner) -> std::unique_ptr<model::SequenceRunner> {
    return std::make_unique<ScriptedRunner>(std::move(inner), script, eos);
  };
  return o;
}

// An endpoint serving `backend` on its own thread until destroyed.
class RunningEndpoint {
 public:
  RunningEndpoint(agents::EmbeddedBackend& backend, server::EndpointOptions options = {}) {
    options.port = 0;
    if (options.limits.model_name.empty()) options.limits.model_name = "tiny";
    endpoint_ = std::make_unique<server::Endpoint>(backend, options);
    thread_ = std::thread([this] { endpoint_->run(); });
  }
  ~RunningEndpoint() {
    endpoint_->stop();
    thread_.join();
  }
  uint16_t port() const { return endpoint_->port(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/v1"; }
  server::Endpoint& endpoint() { return *endpoint_; }

  agents::OpenAIOptions client_options(const std::string& model = "tiny") const {
    agents::OpenAIOptions o;
    o.base_url = base_url();
    o.model = model;
    o.api_key_env = "ENVFORGE_TEST_ENDPOINT_KEY";
    o.retry.max_retries = 0;
    o.request_timeout = std::chrono::milliseconds(120000);
    o.idle_timeout = std::chrono::milliseconds(120000);
    return o;
  }

 private:
  std::unique_ptr<server::Endpoint> endpoint_;
  std::thread thread_;
};

struct RawReply {
  int status = 0;
  std::string body;
  nlohmann::json json;  // the body parsed, or null
  std::string retry_after;
  std::string content_type;
};

// One HTTP exchange over a fresh connection.
inline RawReply http_call(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = {}, const std::string& bearer = {}) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  req.body() = body;
  req.prepare_payload();
  http::write(sock, req);
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(sock, buf, parser);
  const auto& res = parser.get();
  RawReply out;
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  out.retry_after = std::string(res[http::field::retry_after]);
  out.content_type = std::string(res[http::field::content_type]);
  out.json = nlohmann::json::parse(out.body, nullptr, false);
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

inline model::ChatMessage chat_msg(std::string role, std::string content) {
  model::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

}  // namespace envforge::testing
