// The private protocol between the host (LauncherClient) and the launcher process:
// length-prefixed binary frames over a stream socket, file descriptors attached with
// SCM_RIGHTS. Both sides are built from this file (the launcher without sanitizers).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/spec.h"

namespace envforge::sandbox::wire {

enum class MsgType : std::uint32_t {
  kLaunch = 1,
  kRelease = 2,
  kProbe = 3,
  kReleaseQuiet = 4,  // a release that wants no reply (no cgroup usage to read)
  kLaunched = 101,
  kReleased = 102,
  kProbed = 103,
  kError = 199,
};

// Largest frame either side accepts: files and argv of a spec travel in one frame.
inline constexpr std::uint32_t kMaxFrameBytes = 256u << 20;
// Descriptors handed back for a launched box, in this order.
inline constexpr int kBoxFdCount = 5;  // pidfd, stdin (write), stdout, stderr, status (read)

struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Writer {
 public:
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void str(std::string_view s);
  void strs(const std::vector<std::string>& v);
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::uint32_t u32();
  std::uint64_t u64();
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string str();
  std::vector<std::string> strs();
  bool done() const { return pos_ == data_.size(); }

 private:
  void need(std::size_t n) const;
  std::string_view data_;
  std::size_t pos_ = 0;
};

// What the launcher needs to build a box (the spec minus host-side concerns).
struct LaunchRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::vector<WorkFile> files;
  std::vector<RoBind> binds;
  Limits limits;
  Network network = Network::kNone;
};
std::string encode(const LaunchRequest& r);
LaunchRequest decode_launch(std::string_view payload);

struct LaunchReply {
  std::uint64_t box_id = 0;
  std::int32_t pid = 0;
  std::uint32_t memory_mode = 0;  // ControlMode values
  std::uint32_t pids_mode = 0;
};
std::string encode(const LaunchReply& r);
LaunchReply decode_launched(std::string_view payload);

struct ReleaseReply {
  std::int64_t peak_kb = -1;     // -1: not measured by a cgroup
  std::int64_t oom_kills = 0;    // memory cgroup OOM kills (or failcnt hits at the limit)
  std::int64_t pids_denied = 0;  // forks refused by the pids cgroup
  std::int64_t cpu_us = -1;      // CPU time of the whole box by its cgroup; -1: not measured
};
std::string encode(const ReleaseReply& r);
ReleaseReply decode_released(std::string_view payload);

// Frame I/O on a blocking stream socket. send_frame attaches `fds` to the first byte.
void send_frame(int sock, MsgType type, std::string_view payload, const std::vector<int>& fds = {});
// Returns false on clean EOF before any byte. Received descriptors are appended to `fds`
// (always close-on-exec).
bool recv_frame(int sock, MsgType& type, std::string& payload, std::vector<int>& fds);

}  // namespace envforge::sandbox::wire
