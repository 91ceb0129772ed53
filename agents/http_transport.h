// A small blocking HTTP POST over libcurl, safe to use from many threads at once. Curl handles
// are pooled so that connections to the same server are kept alive between calls.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace envforge::agents {

struct HttpHead {
  int status = 0;
  std::string content_type;
  std::string retry_after;
};

struct HttpPost {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds total_timeout{600000};
  // Abort when no byte arrived for this long once the server started answering (0 = off).
  // Before the first byte of the reply only total_timeout applies: a non-streamed reply is
  // silent while the model generates it.
  std::chrono::milliseconds idle_timeout{0};
  // Abort when the reply (headers and body, any status) grows past this many bytes (0 = off).
  std::size_t max_reply_bytes = 0;
  // Receives the body of a 2xx reply as it arrives. May throw: the transfer stops and the
  // exception is rethrown from post(). Bodies of other statuses are kept in HttpResult::body.
  std::function<void(std::string_view, const HttpHead&)> on_body;
};

struct HttpResult {
  // kTimeout: total_timeout passed; kIdle: idle_timeout passed; kTooLarge: max_reply_bytes.
  enum class Outcome { kOk, kTimeout, kIdle, kTooLarge, kConnection, kBadUrl };
  Outcome outcome = Outcome::kOk;
  std::string error;  // libcurl's words when outcome != kOk
  HttpHead head;
  std::string body;   // the whole body, unless on_body took a 2xx body
  std::size_t body_bytes = 0;
  std::size_t reply_bytes = 0;  // headers and body
};

class HttpTransport {
 public:
  HttpTransport();
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  HttpResult post(const HttpPost& request);

 private:
  void* take_handle();
  void return_handle(void* handle);
  std::mutex mutex_;
  std::vector<void*> idle_;  // CURL* kept for reuse
};

}  // namespace envforge::agents
