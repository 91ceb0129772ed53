#include "sandbox/wire.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace envforge::sandbox::wire {

void Writer::u32(std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  buf_.append(b, 4);
}
void Writer::u64(std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  buf_.append(b, 8);
}
void Writer::str(std::string_view s) {
  u64(s.size());
  buf_.append(s.data(), s.size());
}
void Writer::strs(const std::vector<std::string>& v) {
  u32(static_cast<std::uint32_t>(v.size()));
  for (const auto& s : v) str(s);
}

void Reader::need(std::size_t n) const {
  if (n > data_.size() - pos_) throw ProtocolError("sandbox protocol: truncated frame");
}
std::uint32_t Reader::u32() {
  need(4);
  std::uint32_t v;
  std::memcpy(&v, data_.data() + pos_, 4);
  pos_ += 4;
  return v;
}
std::uint64_t Reader::u64() {
  need(8);
  std::uint64_t v;
  std::memcpy(&v, data_.data() + pos_, 8);
  pos_ += 8;
  return v;
}
std::string Reader::str() {
  std::uint64_t n = u64();
  need(n);
  std::string s(data_.substr(pos_, n));
  pos_ += n;
  return s;
}
std::vector<std::string> Reader::strs() {
  std::uint32_t n = u32();
  std::vector<std::string> v;
  for (std::uint32_t i = 0; i < n; ++i) v.push_back(str());
  return v;
}

std::string encode(const LaunchRequest& r) {
  Writer w;
  w.strs(r.argv);
  w.strs(r.env);
  w.u32(static_cast<std::uint32_t>(r.files.size()));
  for (const auto& f : r.files) {
    w.str(f.name);
    w.str(f.bytes);
    w.u32(f.mode);
  }
  w.u32(static_cast<std::uint32_t>(r.binds.size()));
  for (const auto& b : r.binds) {
    w.str(b.host_path);
    w.str(b.box_path);
  }
  const Limits& l = r.limits;
  w.i64(l.wall_ms);
  w.i64(l.cpu_ms);
  w.i64(l.memory_mb);
  w.i64(l.max_pids);
  w.i64(l.open_files);
  w.i64(l.file_size_mb);
  w.i64(l.tmpfs_mb);
  w.u64(l.stdout_bytes);
  w.u64(l.stderr_bytes);
  w.u32(static_cast<std::uint32_t>(r.network));
  return w.bytes();
}

LaunchRequest decode_launch(std::string_view payload) {
  Reader rd(payload);
  LaunchRequest r;
  r.argv = rd.strs();
  r.env = rd.strs();
  std::uint32_t nf = rd.u32();
  for (std::uint32_t i = 0; i < nf; ++i) {
    WorkFile f;
    f.name = rd.str();
    f.bytes = rd.str();
    f.mode = rd.u32();
    r.files.push_back(std::move(f));
  }
  std::uint32_t nb = rd.u32();
  for (std::uint32_t i = 0; i < nb; ++i) {
    RoBind b;
    b.host_path = rd.str();
    b.box_path = rd.str();
    r.binds.push_back(std::move(b));
  }
  Limits& l = r.limits;
  l.wall_ms = rd.i64();
  l.cpu_ms = rd.i64();
  l.memory_mb = rd.i64();
  l.max_pids = static_cast<int>(rd.i64());
  l.open_files = static_cast<int>(rd.i64());
  l.file_size_mb = rd.i64();
  l.tmpfs_mb = rd.i64();
  l.stdout_bytes = rd.u64();
  l.stderr_bytes = rd.u64();
  std::uint32_t net = rd.u32();
  if (net > static_cast<std::uint32_t>(Network::kLoopback)) throw ProtocolError("sandbox protocol: bad network mode");
  r.network = static_cast<Network>(net);
  if (!rd.done()) throw ProtocolError("sandbox protocol: trailing bytes in launch request");
  return r;
}

std::string encode(const LaunchReply& r) {
  Writer w;
  w.u64(r.box_id);
  w.u32(static_cast<std::uint32_t>(r.pid));
  w.u32(r.memory_mode);
  w.u32(r.pids_mode);
  return w.bytes();
}
LaunchReply decode_launched(std::string_view payload) {
  Reader rd(payload);
  LaunchReply r;
  r.box_id = rd.u64();
  r.pid = static_cast<std::int32_t>(rd.u32());
  r.memory_mode = rd.u32();
  r.pids_mode = rd.u32();
  return r;
}

std::string encode(const ReleaseReply& r) {
  Writer w;
  w.i64(r.peak_kb);
  w.i64(r.oom_kills);
  w.i64(r.pids_denied);
  w.i64(r.cpu_us);
  return w.bytes();
}
ReleaseReply decode_released(std::string_view payload) {
  Reader rd(payload);
  ReleaseReply r;
  r.peak_kb = rd.i64();
  r.oom_kills = rd.i64();
  r.pids_denied = rd.i64();
  r.cpu_us = rd.i64();
  return r;
}

namespace {

void write_all(int sock, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(sock, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw ProtocolError(std::string("sandbox protocol: send failed: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Reads exactly n bytes; collects any descriptors that ride along. Returns false on EOF
// before the first byte when `eof_ok`.
bool read_exact(int sock, char* p, std::size_t n, std::vector<int>& fds, bool eof_ok) {
  std::size_t got = 0;
  while (got < n) {
    iovec iov{p + got, n - got};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * 16)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    ssize_t r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw ProtocolError(std::string("sandbox protocol: receive failed: ") + std::strerror(errno));
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds.push_back(fd);
        }
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) throw ProtocolError("sandbox protocol: descriptors truncated");
    if (r == 0) {
      if (got == 0 && eof_ok) return false;
      throw ProtocolError("sandbox protocol: peer closed the connection mid-frame");
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

void send_frame(int sock, MsgType type, std::string_view payload, const std::vector<int>& fds) {
  if (payload.size() > kMaxFrameBytes) throw ProtocolError("sandbox protocol: frame too large");
  char hdr[8];
  std::uint32_t t = static_cast<std::uint32_t>(type), n = static_cast<std::uint32_t>(payload.size());
  std::memcpy(hdr, &t, 4);
  std::memcpy(hdr + 4, &n, 4);
  if (!fds.empty()) {
    iovec iov{hdr, sizeof hdr};
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * 16)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ssize_t w;
    do {
      w = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0) throw ProtocolError(std::string("sandbox protocol: sendmsg failed: ") + std::strerror(errno));
    if (static_cast<std::size_t>(w) < sizeof hdr) write_all(sock, hdr + w, sizeof hdr - static_cast<std::size_t>(w));
  } else {
    write_all(sock, hdr, sizeof hdr);
  }
  write_all(sock, payload.data(), payload.size());
}

bool recv_frame(int sock, MsgType& type, std::string& payload, std::vector<int>& fds) {
  char hdr[8];
  if (!read_exact(sock, hdr, sizeof hdr, fds, true)) return false;
  std::uint32_t t, n;
  std::memcpy(&t, hdr, 4);
  std::memcpy(&n, hdr + 4, 4);
  if (n > kMaxFrameBytes) throw ProtocolError("sandbox protocol: frame too large");
  type = static_cast<MsgType>(t);
  payload.resize(n);
  if (n > 0) read_exact(sock, payload.data(), n, fds, false);
  return true;
}

}  // namespace envforge::sandbox::wire
