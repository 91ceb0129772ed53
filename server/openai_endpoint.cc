#include "server/openai_endpoint.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <ctime>
#include <cerrno>
#include <deque>
#include <future>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "agents/embedded_backend.h"
#include "agents/embedded_stream.h"
#include "model/batch_engine.h"
#include "server/bearer_token.h"
#include "server/lingering_close.h"
#include "server/openai_endpoint_reply.h"
#include "server/server.h"

namespace envforge::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr std::size_t kEndpointHeaderLimit = 16 << 10;

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " +
         std::string(http::obsolete_reason(static_cast<http::status>(status))) + "\r\n";
}

std::string chunked(const std::string& data) {
  std::ostringstream c;
  c << std::hex << data.size() << "\r\n" << data << "\r\n";
  return c.str();
}

std::string random_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream s;
  s << "chatcmpl-" << std::hex << rng() << rng();
  return s.str();
}

}  // namespace

// State shared by the endpoint, its connections and the engine's callbacks (which may outlive
// a connection).
struct EndpointShared {
  EndpointShared(agents::EmbeddedBackend& b, EndpointOptions o) : backend(b), options(std::move(o)) {}
  agents::EmbeddedBackend& backend;
  EndpointOptions options;
  std::atomic<int> in_flight{0};     // generations admitted, not finished
  std::atomic<int> hooks_alive{0};   // engine callbacks not yet destroyed
  std::atomic<bool> stopping{false};
  std::atomic<long> requests{0}, rejected_busy{0}, cancelled{0};
};

class Session;

// What the engine holds for one generation: the connection to deliver to. Destroyed by the
// engine when it drops the request; the endpoint waits for every hook before it goes.
struct EngineHook {
  EngineHook(std::shared_ptr<Session> s, std::shared_ptr<EndpointShared> sh) : session(std::move(s)), shared(std::move(sh)) {
    ++shared->hooks_alive;
  }
  ~EngineHook() {
    session.reset();
    --shared->hooks_alive;
  }
  std::shared_ptr<Session> session;
  std::shared_ptr<EndpointShared> shared;
};

// One chat completion request being generated.
struct Job {
  EndpointRequest request;
  ReplyHeader header;
  std::vector<agents::EmbeddedCall> calls;            // one per choice
  std::vector<std::optional<agents::CompletionStreamer>> streamers;
  std::vector<std::future<model::GenerationResult>> futures;
  std::vector<agents::ChatResponse> replies;
  std::vector<nlohmann::json> logprobs;  // per choice, when asked for (non-streamed)
  std::vector<std::vector<model::TokenLogprob>> unsent_logprobs;  // per choice: tokens not yet in a chunk
  int remaining = 0;
  std::optional<EndpointError> failure;  // the engine failed
  bool keep_alive = true;
  bool chunked = true;  // HTTP/1.1 stream: chunked transfer coding
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<EndpointShared> shared)
      : strand_(socket.get_executor()), stream_(std::move(socket)), shared_(std::move(shared)) {}

  void start() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read, shared_from_this()));
  }

  // From the engine's scheduler thread.
  bool on_engine_token(int choice, std::int32_t token, const model::TokenLogprob* logprob) {
    if (job_cancelled_ || shared_->stopping) return false;
    std::optional<model::TokenLogprob> lp;
    if (logprob) lp = *logprob;
    asio::post(strand_, [self = shared_from_this(), choice, token, lp = std::move(lp)]() mutable {
      self->deliver_token(choice, token, std::move(lp));
    });
    return true;
  }
  void on_engine_done(int choice) {
    asio::post(strand_, [self = shared_from_this(), choice] { self->deliver_done(choice); });
    --shared_->in_flight;  // last: the endpoint may go once nothing is in flight
  }

 private:
  // ---- reading requests -------------------------------------------------------------------
  void read() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(kEndpointHeaderLimit);
    parser_->body_limit(shared_->options.max_body_bytes);
    stream_.expires_after(shared_->options.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  // A client that sends "Expect: 100-continue" (curl, for bodies over 1 KiB) waits for a go-ahead
  // before the body.
  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read(ec, 0);
    if (!beast::iequals(parser_->get()[http::field::expect], "100-continue")) return read_body();
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->read_body();
    });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::error::operation_aborted)
      return close();
    if (ec == http::error::body_limit)
      return send_error(EndpointError(413, "the request body exceeds " + std::to_string(shared_->options.max_body_bytes) +
                                               " bytes", "", "request_too_large"), false);
    if (ec == http::error::header_limit)
      return send_error(EndpointError(431, "the request headers exceed 16 KiB"), false);
    if (ec) return send_error(EndpointError(400, "malformed HTTP request: " + ec.message()), false);
    stream_.expires_never();
    http::request<http::string_body> req = parser_->release();
    const bool keep_alive = req.keep_alive();
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    const auto auth = req[http::field::authorization];
    if (path != "/health" && !bearer_token_matches(std::string_view(auth.data(), auth.size()), shared_->options.token))
      return send_error(EndpointError(401, "this server needs Authorization: Bearer <token>", "", "invalid_api_key"),
                        keep_alive);
    const auto method = req.method();
    if (path == "/health" || path == "/v1/models") {
      if (method != http::verb::get) return send_error(EndpointError(405, "use GET " + path), keep_alive);
      if (path == "/health") return send_json(200, {{"status", "ok"}}, keep_alive);
      return send_json(200, models_json(), keep_alive);
    }
    if (path == "/v1/chat/completions") {
      if (method != http::verb::post) return send_error(EndpointError(405, "use POST " + path), keep_alive);
      return start_chat(req, keep_alive);
    }
    send_error(EndpointError(404, "no route " + std::string(req.method_string()) + " " + path +
                                      " (this server has POST /v1/chat/completions, GET /v1/models, GET /health)",
                             "", "not_found"),
               keep_alive);
  }

  json models_json() const {
    const std::string& name = shared_->options.limits.model_name;
    return {{"object", "list"},
            {"data", {{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "envforge"},
                       {"max_model_len", shared_->backend.engine().runner().max_context()}}}}};
  }

  // ---- chat completions -------------------------------------------------------------------
  void start_chat(http::request<http::string_body>& req, bool keep_alive) {
    ++shared_->requests;
    auto job = std::make_shared<Job>();
    job->keep_alive = keep_alive;
    job->chunked = req.version() >= 11;
    try {
      job->request = parse_endpoint_request(req.body(), shared_->options.limits);
    } catch (const EndpointError& e) {
      return send_error(e, keep_alive);
    }
    agents::EmbeddedCall first;
    try {
      first = shared_->backend.prepare(job->request.chat, job->request.mode);
      first.generation.top_logprobs = job->request.top_logprobs;
    } catch (const agents::BackendError& e) {
      const std::string what = e.what();
      const bool too_long = what.find("the model's context is") != std::string::npos;
      return send_error(EndpointError(400, what, "messages", too_long ? "context_length_exceeded" : "invalid_messages"),
                        keep_alive);
    }
    const int n = job->request.n;
    if (shared_->in_flight.fetch_add(n) + n > shared_->options.max_queued) {
      shared_->in_flight -= n;
      ++shared_->rejected_busy;
      return send_error(EndpointError(429, "the server is busy: " + std::to_string(shared_->options.max_queued) +
                                               " generations are queued or running; retry later",
                                      "", "server_busy"),
                        keep_alive, {"Retry-After: 1"});
    }
    job->streamers.reserve(n);
    for (int i = 0; i < n; ++i) {
      job->calls.push_back(first);
      job->calls.back().generation.sampling.seed = first.generation.sampling.seed + static_cast<std::uint64_t>(i);
      if (job->request.chat.stream)
        job->streamers.emplace_back(std::in_place, shared_->backend.tokenizer(), first.mode, first.generation.stop_strings);
    }
    job->replies.resize(n);
    if (job->request.top_logprobs >= 0) {
      job->logprobs.resize(n);
      job->unsent_logprobs.resize(n);
    }
    job->header = {random_id(), static_cast<std::int64_t>(std::time(nullptr)), shared_->options.limits.model_name};
    job->remaining = n;
    job_ = job;
    job_cancelled_ = false;
    if (job->request.chat.stream) begin_stream();
    for (int i = 0; i < n; ++i) {
      auto hook = std::make_shared<EngineHook>(shared_from_this(), shared_);
      try {
        job->futures.push_back(shared_->backend.engine().submit(
            job->calls[i].generation,
            [hook, i](std::int32_t token, const model::TokenLogprob* lp) {
              return hook->session->on_engine_token(i, token, lp);
            },
            [hook, i] { hook->session->on_engine_done(i); }));
      } catch (const std::exception& e) {  // the request never entered the engine
        shared_->in_flight -= n - i;
        job->remaining -= n - i;
        job->futures.resize(n);
        job->failure = EndpointError(400, std::string("the engine refused the request: ") + e.what(), "messages");
        job_cancelled_ = true;
        if (job->remaining == 0) finish_job();
        break;
      }
    }
    watch_disconnect();
  }

  void begin_stream() {
    std::string head = status_line(200) +
                       "Server: envforge\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (job_->chunked) head += "Transfer-Encoding: chunked\r\n";
    if (!job_->keep_alive || !job_->chunked) head += "Connection: close\r\n";
    enqueue(head + "\r\n");
    for (int i = 0; i < job_->request.n; ++i)
      stream_event(chunk_json(job_->header, i, {{"role", "assistant"}, {"content", ""}}));
  }

  void stream_event(const json& data) { enqueue_body(sse_event(data)); }

  void enqueue_body(const std::string& bytes) { enqueue(job_ && job_->chunked ? chunked(bytes) : bytes); }

  void deliver_token(int choice, std::int32_t token, std::optional<model::TokenLogprob> logprob) {
    if (!job_ || !job_->request.chat.stream || closed_) return;
    if (logprob) job_->unsent_logprobs[choice].push_back(std::move(*logprob));
    for (const agents::StreamEvent& ev : job_->streamers[choice]->push(token))
      stream_event(chunk_json(job_->header, choice, delta_json(ev), nullptr, take_unsent_logprobs(choice)));
  }

  // The logprobs of the tokens no chunk carried yet (the streamer holds markup back until it
  // knows what it is): they ride on the next chunk of their choice.
  json take_unsent_logprobs(int choice) {
    if (job_->unsent_logprobs.empty() || job_->unsent_logprobs[choice].empty()) return nullptr;
    json j = logprobs_json(job_->unsent_logprobs[choice], shared_->backend.tokenizer());
    job_->unsent_logprobs[choice].clear();
    return j;
  }

  void deliver_done(int choice) {
    if (!job_) return;
    Job& job = *job_;
    try {
      model::GenerationResult result = job.futures[choice].get();
      if (result.finish_reason == "cancelled") ++shared_->cancelled;
      job.replies[choice] = shared_->backend.respond(job.calls[choice], result);
      if (!job.logprobs.empty() && !job.request.chat.stream)
        job.logprobs[choice] = logprobs_json(result.logprobs, shared_->backend.tokenizer());
    } catch (const std::exception& e) {
      job.failure = EndpointError(500, std::string("the engine failed: ") + e.what(), "", "engine_error");
    }
    if (job.request.chat.stream && !closed_ && !job.failure) {
      const agents::ChatResponse& r = job.replies[choice];
      for (const agents::StreamEvent& ev : job.streamers[choice]->finish(r.message))
        stream_event(chunk_json(job.header, choice, delta_json(ev), nullptr, take_unsent_logprobs(choice)));
      stream_event(chunk_json(job.header, choice, json::object(), r.finish_reason, take_unsent_logprobs(choice)));
    }
    if (--job.remaining == 0) finish_job();
  }

  void finish_job() {
    std::shared_ptr<Job> job = std::move(job_);
    job_.reset();
    if (closed_) return close();
    if (job->request.chat.stream) {
      if (job->failure) stream_event_for(*job, job->failure->to_json());
      if (job->request.include_usage && !job->failure) {
        std::int64_t completion = 0;
        for (const auto& r : job->replies) completion += r.usage.completion_tokens;
        json usage = {{"id", job->header.id}, {"object", "chat.completion.chunk"}, {"created", job->header.created},
                      {"model", job->header.model}, {"choices", json::array()},
                      {"usage", usage_json(job->calls[0].prompt_tokens, completion)}};
        stream_event_for(*job, usage);
      }
      std::string done = "data: [DONE]\n\n";
      enqueue(job->chunked ? chunked(done) + "0\r\n\r\n" : done);
      after_writes_ = job->keep_alive && job->chunked ? Next::kRead : Next::kClose;
      return maybe_continue();
    }
    if (job->failure) return send_error(*job->failure, job->keep_alive);
    send_json(200, completion_json(job->header, job->replies, job->calls[0].prompt_tokens, job->logprobs),
              job->keep_alive);
  }

  void stream_event_for(const Job& job, const json& data) {
    const std::string bytes = sse_event(data);
    enqueue(job.chunked ? chunked(bytes) : bytes);
  }

  // A client that goes away mid-request cancels it: watch the socket for its end of file.
  void watch_disconnect() {
    if (watching_ || closed_) return;
    watching_ = true;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      self->watching_ = false;
      if (ec || !self->job_) return;
      char byte;
      const ssize_t got = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (got > 0) return;  // the next request, pipelined: the client is still there
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch_disconnect();
      self->client_gone("the client closed the connection");
    });
  }

  void client_gone(const char* why) {
    if (job_ && !job_cancelled_) spdlog::debug("endpoint: {}: request {} cancelled", why, job_->header.id);
    job_cancelled_ = true;
    closed_ = true;
    if (!writing_) {  // a write in progress still uses the front buffer: its handler clears
      out_.clear();
      backlog_ = 0;
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  // ---- writing ----------------------------------------------------------------------------
  enum class Next { kNothing, kRead, kClose };

  void send_json(int status, const json& body, bool keep_alive, const std::vector<std::string>& headers = {}) {
    const std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string head = status_line(status) + "Server: envforge\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(text.size()) + "\r\n";
    for (const auto& h : headers) head += h + "\r\n";
    if (!keep_alive) head += "Connection: close\r\n";
    enqueue(head + "\r\n" + text);
    after_writes_ = keep_alive ? Next::kRead : Next::kClose;
    maybe_continue();
  }

  void send_error(const EndpointError& e, bool keep_alive, const std::vector<std::string>& headers = {}) {
    if (e.status() >= 500) spdlog::warn("endpoint: {}", e.what());
    send_json(e.status(), e.to_json(), keep_alive, headers);
  }

  void enqueue(std::string bytes) {
    if (closed_) return;
    backlog_ += bytes.size();
    out_.push_back(std::move(bytes));
    if (backlog_ > shared_->options.max_stream_backlog && job_) {
      spdlog::warn("endpoint: a client fell {} bytes behind its stream: cut off", backlog_);
      client_gone("the client fell behind");
      return;
    }
    write_next();
  }

  void write_next() {
    if (writing_ || out_.empty() || closed_) return;
    writing_ = true;
    stream_.expires_after(shared_->options.write_timeout);
    asio::async_write(stream_, asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      self->stream_.expires_never();
      self->backlog_ -= self->out_.front().size();
      self->out_.pop_front();
      if (ec) return self->client_gone("a write failed");
      if (self->closed_) {
        self->out_.clear();
        self->backlog_ = 0;
        return;
      }
      self->write_next();
      self->maybe_continue();
    });
  }

  // Once everything queued is written: the next request, or the end of the connection.
  void maybe_continue() {
    if (writing_ || !out_.empty() || job_) return;
    const Next next = after_writes_;
    after_writes_ = Next::kNothing;
    if (next == Next::kRead) read();
    if (next == Next::kClose) close();
  }

  void close() {
    closed_ = true;
    lingering_close(stream_, shared_from_this());
  }

  const asio::any_io_executor strand_;  // the connection's strand (engine threads post to it)
  beast::tcp_stream stream_;
  std::shared_ptr<EndpointShared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Job> job_;
  std::atomic<bool> job_cancelled_{false};  // read by the engine's thread
  std::deque<std::string> out_;
  std::size_t backlog_ = 0;
  bool writing_ = false;
  bool watching_ = false;
  bool closed_ = false;
  Next after_writes_ = Next::kNothing;
};

// ---------------------------------------------------------------------------------------------
class EndpointImpl {
 public:
  EndpointImpl(agents::EmbeddedBackend& backend, EndpointOptions options)
      : shared_(std::make_shared<EndpointShared>(backend, std::move(options))),
        acceptor_(ioc_),
        signals_(ioc_),
        drain_timer_(ioc_) {
    const EndpointOptions& o = shared_->options;
    if (o.token.empty() && !is_loopback_host(o.host))
      throw std::runtime_error("binding " + o.host +
                               " (beyond loopback) needs a token: --token-file FILE or ENVFORGE_SERVE_TOKEN");
    if (o.max_queued < 1 || o.io_threads < 1 || o.limits.max_n < 1)
      throw std::runtime_error("endpoint: max queued, io threads and max n must be positive");
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
    if (ec) throw std::runtime_error("bad --host '" + o.host + "': " + ec.message());
    const tcp::endpoint ep(address, o.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) throw std::runtime_error("cannot bind " + o.host + ":" + std::to_string(o.port) + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections);
    if (o.handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
    }
  }

  ~EndpointImpl() {
    // The engine may still hold callbacks into connections whose sockets live in ioc_.
    shared_->stopping = true;
    while (shared_->hooks_alive.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void run() {
    accept();
    if (shared_->options.handle_signals)
      signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: stopping", sig);
        begin_stop();
      });
    std::vector<std::thread> threads;
    for (int i = 1; i < shared_->options.io_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
  }

  void stop() {
    asio::post(ioc_, [this] { begin_stop(); });
  }

  EndpointStats stats() const {
    return {shared_->requests.load(), shared_->rejected_busy.load(), shared_->cancelled.load(),
            shared_->in_flight.load()};
  }

 private:
  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        spdlog::warn("endpoint: accept failed: {}", ec.message());
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), shared_)->start();
      }
      accept();
    });
  }

  // Cancels every generation (the callbacks say no) and stops once none is in flight.
  void begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    shared_->stopping = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    signals_.cancel();
    wait_idle();
  }

  void wait_idle() {
    if (shared_->in_flight.load() == 0) return ioc_.stop();
    drain_timer_.expires_after(std::chrono::milliseconds(10));
    drain_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) wait_idle();
    });
  }

  std::shared_ptr<EndpointShared> shared_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  bool stopping_ = false;
};

Endpoint::Endpoint(agents::EmbeddedBackend& backend, EndpointOptions options)
    : impl_(std::make_unique<EndpointImpl>(backend, std::move(options))) {}
Endpoint::~Endpoint() = default;
uint16_t Endpoint::port() const { return impl_->port(); }
void Endpoint::run() { impl_->run(); }
void Endpoint::stop() { impl_->stop(); }
EndpointStats Endpoint::stats() const { return impl_->stats(); }

}  // namespace envforge::server
