// A real OpenAI-compatible stand-in server on 127.0.0.1 (an ephemeral port) for the backend
// tests: it answers POSTs with scripted replies in order (JSON, SSE streams, error statuses,
// delays, dropped connections) and records every request it received.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace envforge::agents::testing {

struct ScriptedHttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When non-empty the reply is an SSE stream (chunked): each entry is sent as "data: X\n\n".
  std::vector<std::string> sse_data;
  std::string raw_sse;  // extra raw bytes sent after sse_data (comments, CRLF lines...)
  std::chrono::milliseconds delay{0};           // before the status line
  std::chrono::milliseconds between_events{0};  // between SSE events
  bool drop_before_reply = false;  // close the connection without answering
  bool end_stream_abruptly = false;  // close mid-stream, no terminating chunk
  // Hostile pacing of a body (plain or SSE): a pause before every byte; going silent after
  // this many body bytes until the client hangs up; after the body, `filler` repeated
  // forever (chunked) until the client hangs up.
  std::chrono::milliseconds trickle{0};
  std::size_t stall_after = static_cast<std::size_t>(-1);
  bool endless = false;
  std::string filler = std::string(64 << 10, 'a');

  static ScriptedHttpReply json(const nlohmann::json& body, int status = 200);
  static ScriptedHttpReply stream(std::vector<nlohmann::json> chunks, bool done = true);
};

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json;  // the body parsed, or null when it is not JSON
};

class StandInServer {
 public:
  StandInServer();
  ~StandInServer();
  StandInServer(const StandInServer&) = delete;
  StandInServer& operator=(const StandInServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const;  // http://127.0.0.1:PORT/v1
  void enqueue(ScriptedHttpReply reply);
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;

  // While held, requests are read and counted but not answered.
  void hold(bool on);
  int in_flight() const { return in_flight_.load(); }
  int peak_in_flight() const { return peak_.load(); }
  // Waits until `n` requests are in flight or `limit` passes; returns whether they were.
  bool wait_in_flight(int n, std::chrono::milliseconds limit) const;

 private:
  struct Impl;
  void accept_loop();
  void serve(std::shared_ptr<void> socket);
  bool wait_or_stop(std::chrono::milliseconds d);  // false when stopping
  void write_reply(void* socket, const ScriptedHttpReply& reply, bool& keep_alive);
  // The body bytes of a paced reply (trickle, stall_after, endless); false once the client is gone.
  bool write_paced(void* socket, const ScriptedHttpReply& reply, const std::string& body, bool chunked);

  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<ScriptedHttpReply> replies_;
  std::vector<RecordedRequest> requests_;
  bool held_ = false;
  bool stopping_ = false;
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace envforge::agents::testing
