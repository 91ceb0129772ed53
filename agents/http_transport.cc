#include "agents/http_transport.h"

#include <cctype>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>

#include <curl/curl.h>

namespace envforge::agents {

namespace {

std::once_flag g_curl_init;

using Clock = std::chrono::steady_clock;

struct Transfer {
  const HttpPost* request = nullptr;
  HttpResult* result = nullptr;
  CURL* curl = nullptr;
  std::exception_ptr failure;
  std::optional<Clock::time_point> last_byte;  // unset until the server starts answering
  bool idle = false;
  bool too_large = false;

  // Counts `n` more reply bytes; false when they break the size cap.
  bool arrived(std::size_t n) {
    last_byte = Clock::now();
    result->reply_bytes += n;
    if (request->max_reply_bytes > 0 && result->reply_bytes > request->max_reply_bytes) too_large = true;
    return !too_large;
  }
};

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

std::string header_value(std::string_view line, std::size_t name_len) {
  std::string_view v = line.substr(name_len + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return std::string(v);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (!t->arrived(line.size())) return 0;  // makes libcurl stop
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a 100 Continue, a redirect)
    t->result->head = HttpHead{};
  } else if (header_is(line, "content-type")) {
    t->result->head.content_type = header_value(line, 12);
  } else if (header_is(line, "retry-after")) {
    t->result->head.retry_after = header_value(line, 11);
  }
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  if (!t->arrived(chunk.size())) return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  t->result->body_bytes += chunk.size();
  if (t->result->head.status == 0) {
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    t->result->head.status = static_cast<int>(code);
  }
  int status = t->result->head.status;
  if (t->request->on_body && status >= 200 && status < 300) {
    try {
      t->request->on_body(chunk, t->result->head);
    } catch (...) {
      t->failure = std::current_exception();
      return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
    }
  } else {
    t->result->body.append(chunk);
  }
  return size * n;
}

// libcurl calls this about once a second and on every transfer: the idle check. (Its own
// LOW_SPEED option never fires for a server that trickles exactly its limit.)
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const auto limit = t->request->idle_timeout;
  if (limit.count() > 0 && t->last_byte && Clock::now() - *t->last_byte > limit) {
    t->idle = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

bool is_loopback(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  std::string_view host = std::string_view(url).substr(scheme + 3);
  return host.rfind("127.", 0) == 0 || host.rfind("localhost", 0) == 0 || host.rfind("[::1]", 0) == 0;
}

HttpResult::Outcome classify(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: return HttpResult::Outcome::kTimeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return HttpResult::Outcome::kBadUrl;
    default: return HttpResult::Outcome::kConnection;
  }
}

}  // namespace

HttpTransport::HttpTransport() {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpTransport::~HttpTransport() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpTransport::take_handle() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpTransport::return_handle(void* handle) {
  curl_easy_reset(static_cast<CURL*>(handle));  // keeps the live connections
  std::lock_guard lock(mutex_);
  idle_.push_back(handle);
}

HttpResult HttpTransport::post(const HttpPost& request) {
  HttpResult result;
  CURL* curl = static_cast<CURL*>(take_handle());
  if (curl == nullptr) {
    result.outcome = HttpResult::Outcome::kConnection;
    result.error = "libcurl could not create a handle";
    return result;
  }
  std::unique_ptr<void, std::function<void(void*)>> give_back(
      curl, [this](void* h) { return_handle(h); });

  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> free_headers(headers, curl_slist_free_all);

  Transfer t{&request, &result, curl, nullptr};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
  if (is_loopback(request.url)) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // never proxy ourselves

  CURLcode code = curl_easy_perform(curl);
  if (t.failure) std::rethrow_exception(t.failure);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  result.head.status = static_cast<int>(status);
  if (t.too_large) {
    result.outcome = HttpResult::Outcome::kTooLarge;
    result.error = "the reply passed " + std::to_string(request.max_reply_bytes) + " bytes";
  } else if (t.idle) {
    result.outcome = HttpResult::Outcome::kIdle;
    result.error = "no byte for " + std::to_string(request.idle_timeout.count()) + " ms";
  } else if (code != CURLE_OK) {
    result.outcome = classify(code);
    result.error = errbuf[0] ? errbuf : curl_easy_strerror(code);
  }
  return result;
}

}  // namespace envforge::agents
