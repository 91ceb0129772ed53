#include "server/connections.h"

#include <optional>
#include <string_view>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "server/audit_web/audit_web.h"
#include "server/bearer_token.h"
#include "server/lingering_close.h"
#include "server/mcp.h"
#include "server/routes.h"

namespace envforge::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr std::size_t kHeaderLimit = 16 << 10;
constexpr auto kRequestTimeout = std::chrono::seconds(60);

// The name of whoever sent the request, or nullopt when its token is missing or wrong.
std::optional<std::string> request_user(const ConnectionContext& ctx, const http::request<http::string_body>& req) {
  if (ctx.token.empty() && ctx.users.empty()) return std::string(kLocalUser);
  const auto header = req[http::field::authorization];
  const std::string_view h(header.data(), header.size());
  if (!ctx.token.empty() && bearer_token_matches(h, ctx.token)) return std::string(kUnnamedUser);
  for (const auto& u : ctx.users)
    if (bearer_token_matches(h, u.token)) return u.name;
  return std::nullopt;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---------------------------------------------------------------------------------------------
// WebSocket /ws: one episode at a time per connection. A message is read only after the
// previous one was answered, so reads and writes never overlap.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, std::shared_ptr<ConnectionContext> ctx)
      : ws_(std::move(socket)), ctx_(std::move(ctx)) {}

  ~WsSession() {
    if (episode_ && !ctx_->service_gone) ctx_->service.end(episode_, "disconnect");
  }

  void start(http::request<http::string_body> req) {
    const auto& o = ctx_->service.options();
    ws_.read_message_max(o.max_frame_bytes);
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
    t.idle_timeout = o.idle + std::chrono::seconds(60);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "envforge"); }));
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    read();
  }

  void read() {
    buffer_.consume(buffer_.size());
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return;  // closed, reset, or too big (Beast sent close 1009): the destructor ends the episode
    if (!ws_.got_text()) return fail_and_close("binary frames are not accepted: send JSON text");
    json msg;
    try {
      msg = json::parse(beast::buffers_to_string(buffer_.data()));
    } catch (const json::exception& e) {
      return fail_and_close(std::string("Invalid JSON: ") + e.what());
    }
    if (!msg.is_object()) return fail_and_close("Invalid JSON: a message must be a JSON object");
    const json type = msg.value("type", json());
    if (!type.is_string()) return error(code::kUnknownType, "a message needs a string \"type\"");
    const std::string t = type.get<std::string>();
    json data = msg.contains("data") && !msg["data"].is_null() ? msg["data"] : json::object();
    if (t == "reset") return on_reset(std::move(data));
    if (t == "step") return on_step(std::move(data));
    if (t == "state") return send({{"type", "state"}, {"data", ctx_->service.state(episode_.get())}});
    if (t == "close") return on_close();
    if (t == "mcp") return on_mcp(std::move(data));
    error(code::kUnknownType, "Unknown message type: " + t);
  }

  void on_reset(json data) {
    if (!data.is_object()) return error(code::kValidation, "reset data must be a JSON object");
    if (episode_) {
      ctx_->service.end(episode_, "reset");
      episode_.reset();
    }
    // Off the I/O thread: the first episode of an environment loads it from the corpus.
    asio::post(ctx_->blocking, [self = shared_from_this(), data = std::move(data)] {
      auto started = self->ctx_->service.start(data);
      asio::dispatch(self->ws_.get_executor(), [self, started = std::move(started)]() mutable {
        if (auto* f = std::get_if<Failure>(&started)) return self->send({{"type", "error"}, {"data", f->to_json()}});
        self->episode_ = std::get<std::shared_ptr<Episode>>(started);
        self->send({{"type", "observation"}, {"data", self->ctx_->service.reset_response(*self->episode_)}});
      });
    });
  }

  void on_step(json data) {
    if (!episode_) return error(code::kValidation, "step before reset: send a reset first");
    ctx_->service.step(episode_, data, [self = shared_from_this()](EpisodeService::StepReply reply) {
      asio::dispatch(self->ws_.get_executor(), [self, reply = std::move(reply)] {
        if (auto* f = std::get_if<Failure>(&reply)) return self->send({{"type", "error"}, {"data", f->to_json()}});
        self->send({{"type", "observation"}, {"data", std::get<json>(reply)}});
      });
    });
  }

  void on_mcp(json data) {
    // Off the I/O thread: openenv/session/create may load an environment.
    asio::post(ctx_->blocking, [self = shared_from_this(), data = std::move(data), bound = episode_] {
      handle_mcp(self->ctx_->service, data, bound, [self](json r) {
        asio::dispatch(self->ws_.get_executor(), [self, r = std::move(r)] { self->send({{"type", "mcp"}, {"data", r}}); });
      });
    });
  }

  void on_close() {
    if (episode_) {
      ctx_->service.end(episode_, "close");
      episode_.reset();
    }
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
  }

  void error(const char* code, const std::string& message) {
    send({{"type", "error"}, {"data", Failure{code, message}.to_json()}});
  }

  // Malformed input ends the connection after a clear error.
  void fail_and_close(const std::string& message) {
    out_ = dump({{"type", "error"}, {"data", Failure{code::kInvalidJson, message}.to_json()}});
    ws_.text(true);
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->ws_.async_close(websocket::close_reason(websocket::close_code::bad_payload, "invalid JSON"),
                            [self](beast::error_code) {});
    });
  }

  void send(const json& j) {
    out_ = dump(j);
    ws_.text(true);
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->read();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<ConnectionContext> ctx_;
  beast::flat_buffer buffer_;
  std::string out_;
  std::shared_ptr<Episode> episode_;
};

// ---------------------------------------------------------------------------------------------
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<ConnectionContext> ctx)
      : stream_(std::move(socket)), ctx_(std::move(ctx)) {}

  void start() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::read, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(ctx_->service.options().max_body_bytes);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof)
      return close();
    if (ec == http::error::body_limit)
      return reply(http_error(413, "PAYLOAD_TOO_LARGE", "the request body exceeds " +
                                                            std::to_string(ctx_->service.options().max_body_bytes) +
                                                            " bytes"),
                   false, 11, true);
    if (ec == http::error::header_limit)
      return reply(http_error(431, "HEADERS_TOO_LARGE", "the request headers exceed 16 KiB"), false, 11, true);
    if (ec) return reply(http_error(400, "BAD_REQUEST", "malformed HTTP request: " + ec.message()), false, 11, true);

    http::request<http::string_body> req = parser_->release();
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    const std::string target(req.target());
    const std::optional<std::string> user = request_user(*ctx_, req);
    if (target != "/health" && !is_public_asset(target) && !user)
      return reply(http_error(401, "UNAUTHORIZED", "this server needs Authorization: Bearer <token>"), keep_alive,
                   version, false);
    if (websocket::is_upgrade(req)) {
      if (target != "/ws") return reply(http_error(404, "NOT_FOUND", "WebSocket endpoint is /ws"), false, version, true);
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), ctx_)->start(std::move(req));
      return;
    }
    const std::string method(req.method_string());
    auto self = shared_from_this();
    auto done = [self, keep_alive, version](HttpReply r) {
      asio::dispatch(self->stream_.get_executor(), [self, keep_alive, version, r = std::move(r)]() mutable {
        self->reply(std::move(r), keep_alive, version, false);
      });
    };
    // Routes may read the corpus or load an environment: off the I/O threads.
    RequestInfo info{user.value_or(""), std::string(req[http::field::content_type]), std::string(req[http::field::host])};
    asio::post(ctx_->blocking, [self, method, target, body = std::move(req.body()), done = std::move(done),
                                info = std::move(info)]() mutable {
      try {
        handle_route(self->ctx_->service, method, target, body, done, info);
      } catch (const std::exception& e) {
        done(http_error(500, code::kExecution, std::string("internal error: ") + e.what()));
      }
    });
  }

  void reply(HttpReply r, bool keep_alive, unsigned version, bool close_after) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version);
    res->set(http::field::server, "envforge");
    res->set(http::field::content_type, r.content_type.empty() ? "application/json" : r.content_type);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keep_alive && !close_after);
    res->body() = r.content_type.empty() ? dump(r.body) : std::move(r.raw);
    res->prepare_payload();
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() { lingering_close(stream_, shared_from_this()); }

  beast::tcp_stream stream_;
  std::shared_ptr<ConnectionContext> ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void start_connection(tcp::socket socket, std::shared_ptr<ConnectionContext> ctx) {
  std::make_shared<HttpSession>(std::move(socket), std::move(ctx))->start();
}

}  // namespace envforge::server
