#include "agents/openai_backend.h"

#include <cstdlib>
#include <thread>

#include <spdlog/spdlog.h>

#include "agents/sse_stream.h"

namespace envforge::agents {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

milliseconds left_until(Clock::time_point deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
}

}  // namespace

struct OpenAIBackend::Attempt {
  bool retryable = false;
  std::optional<milliseconds> retry_after;
  bool streamed_any = false;                 // deltas already handed to the caller
  std::optional<Clock::time_point> first_token;
};

OpenAIBackend::OpenAIBackend(OpenAIOptions options) : options_(std::move(options)) {
  const std::string& url = options_.base_url;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw BackendError(BackendErrorKind::kConfig,
                       "OpenAI base URL \"" + url + "\" must start with http:// or https://");
  if (options_.model.empty())
    throw BackendError(BackendErrorKind::kConfig, "OpenAI backend at " + url + ": no model name");
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  endpoint_ = base + "/chat/completions";
  limiter_ = options_.limiter ? options_.limiter
                              : std::make_shared<ConcurrencyLimiter>(options_.max_concurrency);
  wire_.model = options_.model;
  wire_.reasoning_echo = options_.reasoning_echo;
  wire_.stream_usage = options_.stream_usage;
  wire_.extra_body = options_.extra_body;
  if (!wire_.extra_body.is_object())
    throw BackendError(BackendErrorKind::kConfig, "OpenAI extra body must be a JSON object");
  if (!options_.sleep) options_.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
  rng_.seed(options_.jitter_seed ? options_.jitter_seed : std::random_device{}());
}

std::string OpenAIBackend::describe() const {
  return "openai:" + options_.base_url + "#" + options_.model;
}

milliseconds OpenAIBackend::next_delay(int retry, std::optional<milliseconds> after) {
  std::lock_guard lock(rng_mutex_);
  return backoff_delay(options_.retry, retry, after, rng_);
}

ChatResponse OpenAIBackend::chat(const ChatRequest& caller_request, const StreamCallback& on_stream) {
  try {
    return chat_with_retries(caller_request, on_stream);
  } catch (const BackendError& e) {
    report_once(e);
    throw;
  }
}

bool OpenAIBackend::first_time(const BackendError& e, const char* stage) {
  // The cause without the parts that differ call by call (sizes, snippets, attempt counts).
  std::string cause = std::string(stage) + " " + to_string(e.kind()) + " " + std::to_string(e.http_status());
  const std::string what = e.what();
  for (const char* kind : {"reply is not JSON", "missing \"choices\"", "empty body", "no byte for",
                           "no complete reply", "deadline", "the reply passed", "stream ended before",
                           "malformed stream", "server sent an error"})
    if (what.find(kind) != std::string::npos) cause += std::string(" ") + kind;
  std::lock_guard lock(reported_mutex_);
  return reported_.insert(cause).second;
}

void OpenAIBackend::report_once(const BackendError& e) {
  if (e.kind() == BackendErrorKind::kCancelled || !first_time(e, "failed")) return;
  spdlog::error("model call failed: {} (shown once; later calls failing the same way are not shown)", e.what());
}

ChatResponse OpenAIBackend::chat_with_retries(const ChatRequest& request, const StreamCallback& on_stream) {
  const auto start = Clock::now();
  std::optional<Clock::time_point> deadline = request.deadline;
  if (options_.call_timeout.count() > 0) {  // the call's own deadline, when earlier than the caller's
    const Clock::time_point own = start + options_.call_timeout;
    if (!deadline || own < *deadline) deadline = own;
  }
  // Ill-formed UTF-8 anywhere in the conversation (a tool's cut output) is replaced, not fatal.
  const std::string body =
      build_chat_body(request, wire_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  Attempt state;
  for (int attempt = 0;; ++attempt) {
    if (deadline && left_until(*deadline).count() <= 0)
      throw BackendError(BackendErrorKind::kTimeout,
                         "POST " + endpoint_ + ": the call's deadline passed before attempt " +
                             std::to_string(attempt + 1));
    ConcurrencyLimiter::Permit permit = limiter_->acquire(deadline);
    if (!permit)
      throw BackendError(BackendErrorKind::kTimeout,
                         "POST " + endpoint_ + ": no free slot (cap " +
                             std::to_string(limiter_->max_in_flight()) +
                             " calls in flight) before the call's deadline");
    milliseconds timeout = options_.request_timeout;
    if (deadline) timeout = std::min(timeout, left_until(*deadline));
    if (timeout.count() <= 0) timeout = milliseconds(1);
    state.retryable = false;
    state.retry_after.reset();
    try {
      ChatResponse reply = attempt_once(request, body, on_stream, timeout, state);
      reply.timing.attempts = attempt + 1;
      reply.timing.wall_ms = ms_between(start, Clock::now());
      if (state.first_token) reply.timing.first_token_ms = ms_between(start, *state.first_token);
      return reply;
    } catch (const BackendError& e) {
      permit.release();  // never hold a slot while waiting
      const std::string tried = " (attempt " + std::to_string(attempt + 1) + " of " +
                                std::to_string(options_.retry.max_retries + 1) + ")";
      if (!state.retryable || attempt >= options_.retry.max_retries)
        throw BackendError(e.kind(), e.what() + (attempt > 0 || state.retryable ? tried : ""),
                           e.http_status());
      if (state.retry_after && *state.retry_after > options_.retry.max_retry_after)
        throw BackendError(e.kind(),
                           std::string(e.what()) + "; the server asked to wait " +
                               std::to_string(state.retry_after->count() / 1000) +
                               " s (Retry-After), more than the " +
                               std::to_string(options_.retry.max_retry_after.count() / 1000) +
                               " s allowed",
                           e.http_status());
      milliseconds delay = next_delay(attempt, state.retry_after);
      if (deadline && left_until(*deadline) <= delay)
        throw BackendError(BackendErrorKind::kTimeout,
                           std::string(e.what()) + tried + "; no time left before the call's deadline to retry",
                           e.http_status());
      if (first_time(e, "retried"))
        spdlog::warn("{}{}; retrying in {} ms (shown once; later retries for the same cause are not shown)",
                     e.what(), tried, delay.count());
      else
        spdlog::debug("{}{}; retrying in {} ms", e.what(), tried, delay.count());
      options_.sleep(delay);
    }
  }
}

ChatResponse OpenAIBackend::attempt_once(const ChatRequest& request, const std::string& body,
                                         const StreamCallback& on_stream, milliseconds timeout,
                                         Attempt& state) {
  HttpPost post;
  post.url = endpoint_;
  post.body = body;
  post.headers = {"Content-Type: application/json",
                  request.stream ? "Accept: text/event-stream" : "Accept: application/json",
                  "Expect:"};  // no 100-continue round trip for large bodies
  if (const char* key = std::getenv(options_.api_key_env.c_str()); key && *key)
    post.headers.push_back(std::string("Authorization: Bearer ") + key);
  post.connect_timeout = std::min(options_.connect_timeout, timeout);
  post.total_timeout = timeout;
  post.idle_timeout = options_.idle_timeout;
  post.max_reply_bytes = options_.max_reply_bytes;

  bool emitted_this_attempt = false;
  auto forward = [&](const StreamEvent& ev) {
    if (!state.first_token) state.first_token = Clock::now();
    if (!on_stream) return;
    if (!emitted_this_attempt && state.streamed_any) on_stream({StreamEvent::Kind::kReset, ""});
    emitted_this_attempt = true;
    state.streamed_any = true;
    on_stream(ev);
  };
  StreamAccumulator acc(forward);
  SseParser sse([&](const std::string& data) { acc.add(data); });
  bool is_sse = false;
  std::string raw;
  post.on_body = [&](std::string_view chunk, const HttpHead& head) {
    if (request.stream && head.content_type.find("text/event-stream") != std::string::npos) {
      is_sse = true;
      sse.feed(chunk);
    } else {
      raw.append(chunk);
    }
  };

  const std::string where = "POST " + endpoint_;
  HttpResult result;
  try {
    result = http_.post(post);
  } catch (const BackendError& e) {  // a malformed stream chunk
    throw BackendError(e.kind(), where + ": " + e.what(), e.http_status());
  }
  switch (result.outcome) {
    case HttpResult::Outcome::kOk: break;
    case HttpResult::Outcome::kBadUrl:
      throw BackendError(BackendErrorKind::kConfig, where + ": bad URL (" + result.error + ")");
    case HttpResult::Outcome::kTimeout:
      state.retryable = options_.retry.retry_timeouts;
      throw BackendError(BackendErrorKind::kTimeout,
                         where + ": no complete reply within " + std::to_string(timeout.count()) +
                             " ms (" + result.error + ")");
    case HttpResult::Outcome::kIdle:
      state.retryable = options_.retry.retry_timeouts;
      throw BackendError(BackendErrorKind::kTimeout, where + ": the reply stalled: " + result.error +
                                                         " (idle timeout) after " +
                                                         std::to_string(result.reply_bytes) + " bytes");
    case HttpResult::Outcome::kTooLarge:  // an endless reply would be endless again: not retried
      throw BackendError(BackendErrorKind::kProtocol,
                         where + ": " + result.error + " (the reply size cap); the attempt is given up");
    case HttpResult::Outcome::kConnection:
      state.retryable = true;
      throw BackendError(BackendErrorKind::kConnection, where + ": " + result.error);
  }
  const int status = result.head.status;
  if (status < 200 || status >= 300) {
    state.retryable = retryable_status(status);
    if (!result.head.retry_after.empty())
      state.retry_after = parse_retry_after(result.head.retry_after, std::chrono::system_clock::now());
    throw BackendError(BackendErrorKind::kHttp,
                       where + ": HTTP " + std::to_string(status) + ": " +
                           error_text_from_body(result.body),
                       status);
  }
  if (is_sse) {
    sse.finish();  // an event cut short is dropped, as the SSE rules say
    if (!acc.done() && !acc.has_finish_reason()) {
      state.retryable = true;  // the server went away mid-reply
      throw BackendError(BackendErrorKind::kConnection,
                         where + ": the stream ended before [DONE] after " +
                             std::to_string(sse.events()) + " complete event(s)" +
                             (sse.dropped_partial() ? ", the last one cut short" : ""));
    }
    try {
      return acc.finish();
    } catch (const BackendError& e) {
      throw BackendError(e.kind(), where + ": " + e.what(), e.http_status());
    }
  }
  if (raw.empty())
    throw BackendError(BackendErrorKind::kProtocol,
                       where + ": HTTP " + std::to_string(status) + " with an empty body");
  nlohmann::json json = nlohmann::json::parse(raw, nullptr, false);
  if (json.is_discarded())
    throw BackendError(BackendErrorKind::kProtocol,
                       where + ": reply is not JSON (HTTP " + std::to_string(status) +
                           ", Content-Type \"" + result.head.content_type + "\", " +
                           std::to_string(raw.size()) + " bytes): " + snippet(raw));
  ChatResponse reply;
  try {
    reply = parse_chat_completion(json);
  } catch (const BackendError& e) {
    throw BackendError(e.kind(), where + ": " + e.what(), e.http_status());
  }
  if (request.stream) {  // a server that ignored "stream": hand over the reply in one piece
    if (!reply.message.reasoning.empty()) forward({StreamEvent::Kind::kReasoning, reply.message.reasoning});
    if (!reply.message.content.empty()) forward({StreamEvent::Kind::kContent, reply.message.content});
  }
  return reply;
}

}  // namespace envforge::agents
