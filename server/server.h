// envforge serve: the OpenEnv-compatible environment server (see server/PROTOCOL.md).
// Boost.Beast over Asio: I/O threads run the connections; a small blocking pool runs what may
// wait on the corpus; sandbox slots run the tools and verifiers.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "server/serve_options.h"

namespace envforge::server {

class ServerImpl;

class Server {
 public:
  // Loads the corpus' task index and binds the port. Throws std::runtime_error (bad corpus,
  // port in use, a non-loopback address without a token).
  explicit Server(const ServeOptions& options);
  ~Server();

  uint16_t port() const;
  // Serves until SIGTERM/SIGINT or stop(): then stops accepting, lets live episodes finish for
  // options.drain, ends the rest, writes every rollout, and returns.
  void run();
  // Begins the same drain from any thread.
  void stop();

 private:
  std::unique_ptr<ServerImpl> impl_;
};

// True when `host` names only this machine (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

}  // namespace envforge::server
