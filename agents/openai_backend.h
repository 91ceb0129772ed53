// An OpenAI-compatible chat-completions endpoint over HTTP (DeepSeek's API, vLLM, SGLang,
// llama.cpp's server): POST {base_url}/chat/completions, streamed or not, with retries on
// 429/5xx/connection errors and a cap on calls in flight shared by every caller.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "agents/backend.h"
#include "agents/concurrency_limiter.h"
#include "agents/http_transport.h"
#include "agents/openai_wire.h"
#include "agents/retry_policy.h"

namespace envforge::agents {

struct OpenAIOptions {
  std::string base_url;  // as OpenAI clients take it, e.g. http://127.0.0.1:8000/v1
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";  // unset or empty: no Authorization header
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{600000};  // one attempt, end to end
  // The longest silence once the server started answering, streamed or not (0 = none).
  std::chrono::milliseconds idle_timeout{60000};
  // One call: every attempt and every wait between them (0 = none). A server trickling a
  // reply is cut at request_timeout per attempt and here for the call.
  std::chrono::milliseconds call_timeout{1200000};
  // The most bytes one attempt's reply may have; an endless reply fails the call (0 = no cap).
  std::size_t max_reply_bytes = std::size_t{64} << 20;
  RetryPolicy retry;
  int max_concurrency = 8;
  // Share one limiter between backends that hit the same server; made from max_concurrency
  // when null.
  std::shared_ptr<ConcurrencyLimiter> limiter;
  ReasoningEcho reasoning_echo = ReasoningEcho::kToolTurns;
  bool stream_usage = true;
  nlohmann::json extra_body = nlohmann::json::object();  // e.g. {"thinking":{"type":"enabled"}}
  // How the backend waits between retries; tests replace it to observe the waits.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::uint64_t jitter_seed = 0;  // 0: from std::random_device
};

class OpenAIBackend : public Backend {
 public:
  // Throws BackendError(kConfig) for a base URL that is not http(s) or an empty model.
  explicit OpenAIBackend(OpenAIOptions options);

  ChatResponse chat(const ChatRequest& request, const StreamCallback& on_stream = {}) override;
  std::string describe() const override;

  const std::string& endpoint() const { return endpoint_; }
  ConcurrencyLimiter& limiter() { return *limiter_; }

 private:
  struct Attempt;
  ChatResponse chat_with_retries(const ChatRequest& request, const StreamCallback& on_stream);
  // Says on the console, once per kind of failure, what failed at this endpoint and why.
  void report_once(const BackendError& error);
  // True the first time this kind of failure is seen at `stage` ("failed", "retried").
  bool first_time(const BackendError& error, const char* stage);
  ChatResponse attempt_once(const ChatRequest& request, const std::string& body,
                            const StreamCallback& on_stream, std::chrono::milliseconds timeout,
                            Attempt& state);
  std::chrono::milliseconds next_delay(int retry, std::optional<std::chrono::milliseconds> after);

  OpenAIOptions options_;
  WireOptions wire_;
  std::string endpoint_;
  std::shared_ptr<ConcurrencyLimiter> limiter_;
  HttpTransport http_;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
  std::mutex reported_mutex_;
  std::set<std::string> reported_;
};

}  // namespace envforge::agents
