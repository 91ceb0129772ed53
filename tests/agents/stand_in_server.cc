#include "tests/agents/stand_in_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace envforge::agents::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct StandInServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::shared_ptr<tcp::socket>> sockets;
};

ScriptedHttpReply ScriptedHttpReply::json(const nlohmann::json& body, int status) {
  ScriptedHttpReply r;
  r.status = status;
  r.body = body.dump();
  return r;
}

ScriptedHttpReply ScriptedHttpReply::stream(std::vector<nlohmann::json> chunks, bool done) {
  ScriptedHttpReply r;
  r.content_type = "text/event-stream";
  for (const auto& c : chunks) r.sse_data.push_back(c.dump());
  if (done) r.sse_data.push_back("[DONE]");
  return r;
}

StandInServer::StandInServer() : impl_(std::make_unique<Impl>()) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  acceptor_ = std::thread([this] { accept_loop(); });
}

StandInServer::~StandInServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& s : impl_->sockets) ::shutdown(s->native_handle(), SHUT_RDWR);
  }
  changed_.notify_all();
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);  // wakes the blocking accept
  acceptor_.join();
  for (auto& t : connections_) t.join();
}

std::string StandInServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void StandInServer::enqueue(ScriptedHttpReply reply) {
  std::lock_guard lock(mutex_);
  replies_.push_back(std::move(reply));
}

std::vector<RecordedRequest> StandInServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t StandInServer::request_count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

void StandInServer::hold(bool on) {
  {
    std::lock_guard lock(mutex_);
    held_ = on;
  }
  changed_.notify_all();
}

bool StandInServer::wait_in_flight(int n, std::chrono::milliseconds limit) const {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (in_flight_.load() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return in_flight_.load() >= n;
}

bool StandInServer::wait_or_stop(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, d, [&] { return stopping_; });
}

void StandInServer::accept_loop() {
  for (;;) {
    auto sock = std::make_shared<tcp::socket>(impl_->io);
    boost::system::error_code ec;
    impl_->acceptor.accept(*sock, ec);
    std::lock_guard lock(mutex_);
    if (ec || stopping_) return;
    impl_->sockets.push_back(sock);
    connections_.emplace_back([this, sock] { serve(sock); });
  }
}

void StandInServer::serve(std::shared_ptr<void> opaque) {
  auto sock = std::static_pointer_cast<tcp::socket>(opaque);
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(*sock, buffer, req, ec);
    if (ec) return;
    RecordedRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      rec.headers[name] = std::string(field.value());
    }
    rec.body = req.body();
    rec.json = nlohmann::json::parse(rec.body, nullptr, false);
    if (rec.json.is_discarded()) rec.json = nullptr;
    int now = ++in_flight_;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {}
    ScriptedHttpReply reply;
    {
      std::unique_lock lock(mutex_);
      requests_.push_back(std::move(rec));
      changed_.wait(lock, [&] { return !held_ || stopping_; });
      if (stopping_) {
        --in_flight_;
        return;
      }
      if (replies_.empty()) {
        reply = ScriptedHttpReply::json(
            {{"error", {{"message", "stand-in server: no scripted reply left"}}}}, 500);
      } else {
        reply = std::move(replies_.front());
        replies_.pop_front();
      }
    }
    bool keep_alive = req.keep_alive();
    write_reply(sock.get(), reply, keep_alive);
    --in_flight_;
    if (!keep_alive) {
      ::shutdown(sock->native_handle(), SHUT_RDWR);
      return;
    }
  }
}

void StandInServer::write_reply(void* opaque, const ScriptedHttpReply& reply, bool& keep_alive) {
  auto& sock = *static_cast<tcp::socket*>(opaque);
  boost::system::error_code ec;
  if (reply.delay.count() > 0 && !wait_or_stop(reply.delay)) {
    keep_alive = false;
    return;
  }
  if (reply.drop_before_reply) {
    keep_alive = false;
    return;
  }
  std::ostringstream head;
  head << "HTTP/1.1 " << reply.status << " "
       << http::obsolete_reason(static_cast<http::status>(reply.status)) << "\r\n"
       << "Content-Type: " << reply.content_type << "\r\n";
  for (const auto& [k, v] : reply.headers) head << k << ": " << v << "\r\n";
  const bool streaming = !reply.sse_data.empty() || !reply.raw_sse.empty();
  const bool paced = reply.trickle.count() > 0 || reply.endless ||
                     reply.stall_after != static_cast<std::size_t>(-1);
  if (paced) {
    std::string body = reply.body;
    for (const auto& d : reply.sse_data) body += "data: " + d + "\n\n";
    body += reply.raw_sse;
    if (reply.endless || streaming) head << "Transfer-Encoding: chunked\r\n\r\n";
    else head << "Content-Length: " << body.size() << "\r\n\r\n";
    asio::write(sock, asio::buffer(head.str()), ec);
    keep_alive = false;  // a paced reply ends the connection whatever happens
    if (!ec && write_paced(&sock, reply, body, reply.endless || streaming) && (reply.endless || streaming))
      asio::write(sock, asio::buffer(std::string("0\r\n\r\n")), ec);
    return;
  }
  if (!streaming) {
    head << "Content-Length: " << reply.body.size() << "\r\n\r\n" << reply.body;
    asio::write(sock, asio::buffer(head.str()), ec);
    if (ec) keep_alive = false;
    return;
  }
  head << "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n";
  asio::write(sock, asio::buffer(head.str()), ec);
  auto chunk = [&](const std::string& data) {
    std::ostringstream c;
    c << std::hex << data.size() << "\r\n" << data << "\r\n";
    asio::write(sock, asio::buffer(c.str()), ec);
  };
  for (std::size_t i = 0; i < reply.sse_data.size() && !ec; ++i) {
    if (i > 0 && reply.between_events.count() > 0 && !wait_or_stop(reply.between_events)) break;
    chunk("data: " + reply.sse_data[i] + "\n\n");
  }
  if (!reply.raw_sse.empty() && !ec) chunk(reply.raw_sse);
  if (reply.end_stream_abruptly || ec) {
    keep_alive = false;
    return;
  }
  asio::write(sock, asio::buffer(std::string("0\r\n\r\n")), ec);
  if (ec) keep_alive = false;
}

}  // namespace envforge::agents::testing

namespace envforge::agents::testing {

bool StandInServer::write_paced(void* opaque, const ScriptedHttpReply& reply, const std::string& body,
                                bool chunked) {
  auto& sock = *static_cast<tcp::socket*>(opaque);
  boost::system::error_code ec;
  auto send = [&](std::string_view bytes) {
    std::string framed(bytes);
    if (chunked) {
      std::ostringstream c;
      c << std::hex << bytes.size() << "\r\n" << bytes << "\r\n";
      framed = c.str();
    }
    asio::write(sock, asio::buffer(framed), ec);
    return !ec;
  };
  auto client_gone = [&] {
    char byte;
    return ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  };
  std::size_t sent = 0;
  auto emit = [&](std::string_view bytes) {
    while (!bytes.empty()) {
      if (sent >= reply.stall_after) {  // silent until the client gives up
        while (!client_gone())
          if (!wait_or_stop(std::chrono::milliseconds(50))) return false;
        return false;
      }
      std::size_t n = bytes.size();
      if (reply.trickle.count() > 0) {
        if (!wait_or_stop(reply.trickle)) return false;
        n = 1;
      }
      n = std::min(n, reply.stall_after - sent);
      if (!send(bytes.substr(0, n))) return false;
      sent += n;
      bytes.remove_prefix(n);
    }
    return true;
  };
  if (!emit(body)) return false;
  while (reply.endless)
    if (!emit(reply.filler)) return false;
  return true;
}

}  // namespace envforge::agents::testing
