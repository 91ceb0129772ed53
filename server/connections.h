// One TCP connection: HTTP requests (keep-alive) until an upgrade to the /ws WebSocket.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "server/episodes.h"
#include "server/serve_options.h"

namespace envforge::server {

struct ConnectionContext {
  ConnectionContext(EpisodeService& s, boost::asio::thread_pool& b, std::string t)
      : service(s), blocking(b), token(std::move(t)) {}
  EpisodeService& service;
  boost::asio::thread_pool& blocking;  // for work that may wait on the corpus
  std::string token;                   // empty: no authentication
  std::vector<ServeUser> users;        // more tokens, each with its holder's name
  // Set when the server tears the service down: connections destroyed later (with the
  // io_context) must not touch it.
  std::atomic<bool> service_gone{false};
};

void start_connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ConnectionContext> ctx);

}  // namespace envforge::server
