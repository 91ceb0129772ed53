// envforge endpoint: the embedded engine behind an OpenAI-compatible HTTP API
// (POST /v1/chat/completions, GET /v1/models, GET /health; see server/ENDPOINT.md).
// Every connection feeds the one BatchEngine of the backend, so concurrent clients are decoded
// together (continuous batching) and share its prefix cache. Replies are exactly those of the
// `embedded:` backend for the same request (its prepare/respond and its completion streamer).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "server/openai_endpoint_request.h"

namespace envforge::agents {
class EmbeddedBackend;
}

namespace envforge::server {

struct EndpointOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;          // 0: any free port (see port())
  std::string token;             // empty: no authentication (loopback only)
  int io_threads = 2;
  std::size_t max_body_bytes = 8 << 20;
  // Generations admitted at once (running or waiting for a batch slot; a request of n choices
  // counts n). More get 429 with Retry-After.
  int max_queued = 256;
  // Bytes of a stream the client has not read yet; a client that far behind is cut off and its
  // request cancelled.
  std::size_t max_stream_backlog = 4 << 20;
  std::chrono::seconds read_timeout{60};   // to receive a whole request
  std::chrono::seconds write_timeout{60};  // for one write to be taken by the client
  bool handle_signals = false;             // SIGINT/SIGTERM stop run()
  EndpointLimits limits;                   // model name, default thinking mode, n cap
};

struct EndpointStats {
  long requests = 0;      // chat completion requests answered or streamed (errors included)
  long rejected_busy = 0; // 429s for a full queue
  long cancelled = 0;     // generations cut short by a client that went away or fell behind
  int in_flight = 0;      // generations admitted and not finished
};

class EndpointImpl;

class Endpoint {
 public:
  // Binds the port. Throws std::runtime_error (port in use, bad host, a non-loopback host
  // without a token).
  Endpoint(agents::EmbeddedBackend& backend, EndpointOptions options);
  ~Endpoint();
  uint16_t port() const;
  // Serves until stop() (or a signal with handle_signals): then cancels what is running and
  // returns once the engine let go of every request.
  void run();
  void stop();
  EndpointStats stats() const;

 private:
  std::unique_ptr<EndpointImpl> impl_;
};

}  // namespace envforge::server
