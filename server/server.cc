#include "server/server.h"

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include "server/connections.h"
#include "server/episodes.h"

namespace envforge::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

namespace {

std::string default_scratch_dir() {
  std::string t = (std::filesystem::temp_directory_path() / "envforge-serve-XXXXXX").string();
  if (!mkdtemp(t.data())) throw std::runtime_error("cannot create a scratch directory under /tmp");
  return t;
}

}  // namespace

class ServerImpl {
 public:
  explicit ServerImpl(const ServeOptions& o)
      : options_(with_scratch(o)),
        service_(options_),
        acceptor_(ioc_),
        signals_(ioc_, SIGTERM, SIGINT),
        reaper_(ioc_),
        drain_timer_(ioc_) {
    if (options_.token.empty() && options_.users.empty() && !is_loopback_host(options_.host))
      throw std::runtime_error("binding " + options_.host +
                               " (beyond loopback) needs a token: --token-file FILE or ENVFORGE_SERVE_TOKEN");
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
    if (ec) throw std::runtime_error("bad --host '" + options_.host + "': " + ec.message());
    const tcp::endpoint ep(address, options_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) throw std::runtime_error("cannot bind " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections);
    ctx_ = std::make_shared<ConnectionContext>(service_, blocking_, options_.token);
    ctx_->users = options_.users;
  }

  ~ServerImpl() {
    blocking_.join();
    ctx_->service_gone = true;
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void run() {
    accept();
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}: draining (up to {} s for live episodes)", sig, options_.drain.count());
      begin_drain();
    });
    tick();
    std::vector<std::thread> threads;
    for (int i = 1; i < std::max(1, options_.io_threads); ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
    // Every episode still live ends now; the writer has written every row when this returns.
    service_.end_all("shutdown");
    spdlog::info("stopped: {}", service_.stats().dump());
  }

  void stop() {
    asio::post(ioc_, [this] { begin_drain(); });
  }

 private:
  static ServeOptions with_scratch(ServeOptions o) {
    if (o.scratch_dir.empty()) o.scratch_dir = default_scratch_dir();
    return o;
  }

  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        spdlog::warn("accept failed: {}", ec.message());  // e.g. out of file descriptors: keep serving
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        start_connection(std::move(socket), ctx_);
      }
      accept();
    });
  }

  void tick() {
    reaper_.expires_after(std::chrono::seconds(1));
    reaper_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      asio::post(blocking_, [this] { service_.reap(); });
      tick();
    });
  }

  void begin_drain() {
    if (draining_) return;
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    service_.stop_accepting();
    drain_deadline_ = std::chrono::steady_clock::now() + options_.drain;
    wait_drained();
  }

  void wait_drained() {
    if (service_.live() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
      reaper_.cancel();
      signals_.cancel();
      ioc_.stop();
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(100));
    drain_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) wait_drained();
    });
  }

  ServeOptions options_;
  // Declared before the service, so destroyed after it: sandbox threads finishing their jobs
  // still post their replies into a live (stopped) io_context and blocking pool.
  asio::io_context ioc_;
  asio::thread_pool blocking_{4};
  EpisodeService service_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer reaper_;
  asio::steady_timer drain_timer_;
  std::shared_ptr<ConnectionContext> ctx_;
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
};

Server::Server(const ServeOptions& options) : impl_(std::make_unique<ServerImpl>(options)) {}
Server::~Server() = default;
uint16_t Server::port() const { return impl_->port(); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }

}  // namespace envforge::server
