#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/run_box.h"
#include "sandbox/session_impl.h"

namespace envforge::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<std::int64_t>(0, left));
}

// Throws away whatever a previous call left unread; returns how much there was.
std::size_t discard_pending(int fd) {
  char buf[4096];
  std::size_t total = 0;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) total += static_cast<std::size_t>(n);
  return total;
}

}  // namespace

Session::Session(std::unique_ptr<SessionImpl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;
SessionReply Session::call(std::string_view request, std::chrono::milliseconds timeout) {
  return impl_->call(request, timeout);
}
bool Session::alive() const { return impl_->alive(); }
int Session::restarts() const { return impl_->restarts(); }
int Session::box_pid() const { return impl_->box_pid(); }

SessionImpl::SessionImpl(std::shared_ptr<LauncherClient> launcher, Spec spec)
    : launcher_(std::move(launcher)), spec_(std::move(spec)) {}

int SessionImpl::box_pid() const { return box_ ? box_->box().pid : 0; }

void SessionImpl::start() {
  if (std::string bad = precheck_spec(spec_); !bad.empty()) throw std::runtime_error("invalid session spec: " + bad);
  box_.reset();
  try {
    box_.emplace(launcher_, launcher_->launch(to_launch_request(spec_)));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot start the session box: ") + e.what());
  }
  if (starts_++ > 0) ++restarts_;
  out_buf_.clear();
}

SessionReply SessionImpl::fail(SessionReply reply, HostKill kill, const std::optional<StatusRecord>& rec) {
  wire::ReleaseReply usage;
  try {
    usage = box_->release();
  } catch (const std::exception&) {
  }
  LimitModes modes = box_->box().modes;
  box_.reset();
  Result r;
  VerdictInputs in;
  in.record = rec ? &*rec : nullptr;
  in.host_kill = kill;
  in.usage = usage;
  in.modes = modes;
  in.limits = &spec_.limits;
  in.stderr_data = reply.stderr_tail;
  decide_verdict(in, r);
  reply.ok = false;
  reply.verdict = r.verdict == Verdict::kOk ? Verdict::kRuntimeError : r.verdict;
  if (reply.error.empty()) {
    reply.error = r.verdict == Verdict::kOk ? "the session process exited" : "the session process ended: " + r.message;
  }
  reply.error += "; the session restarts on the next call";
  return reply;
}

SessionReply SessionImpl::call(std::string_view request, std::chrono::milliseconds timeout) {
  const auto t0 = Clock::now();
  const auto deadline = t0 + timeout;
  SessionReply reply;
  auto finish = [&](SessionReply r) {
    r.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    return r;
  };
  if (request.find('\n') != std::string_view::npos) {
    reply.verdict = Verdict::kSandboxError;
    reply.error = "session request contains a newline";
    return finish(reply);
  }
  if (!box_) {
    try {
      start();
    } catch (const std::exception& e) {
      reply.verdict = Verdict::kSandboxError;
      reply.error = e.what();
      return finish(reply);
    }
  }
  // Output nobody asked for means the box is still busy with an earlier request (or
  // misbehaving): this call gets a fresh box rather than a stale answer.
  if (discard_pending(box_->box().stdout_r.get()) > 0) {
    try {
      start();
    } catch (const std::exception& e) {
      reply.verdict = Verdict::kSandboxError;
      reply.error = e.what();
      return finish(reply);
    }
  }
  LaunchedBox& box = box_->box();
  discard_pending(box.stderr_r.get());
  out_buf_.clear();
  std::optional<StatusRecord> rec;

  std::string msg(request);
  msg.push_back('\n');
  std::size_t off = 0;
  while (off < msg.size()) {
    ssize_t w = write(box.stdin_w.get(), msg.data() + off, msg.size() - off);
    if (w > 0) {
      off += static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd p{box.stdin_w.get(), POLLOUT, 0};
      if (poll(&p, 1, ms_left(deadline)) == 0) {
        reply.error = "call timed out after " + std::to_string(timeout.count()) + " ms (request not consumed)";
        return finish(fail(reply, HostKill::kWall, rec));
      }
      continue;
    }
    // EPIPE: the box is gone. Give its reaper a moment to report why.
    pollfd p{box.status_r.get(), POLLIN, 0};
    poll(&p, 1, 200);
    box_->poll_status(rec);
    return finish(fail(reply, HostKill::kNone, rec));
  }

  for (;;) {
    pollfd fds[3] = {{box.stdout_r.get(), POLLIN, 0}, {box.stderr_r.get(), POLLIN, 0}, {box.status_r.get(), POLLIN, 0}};
    int left = ms_left(deadline);
    int r = left > 0 ? poll(fds, 3, left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      reply.error = "call timed out after " + std::to_string(timeout.count()) + " ms";
      return finish(fail(reply, HostKill::kWall, rec));
    }
    if (fds[1].revents) {
      bool trunc = false;
      read_capped(box.stderr_r.get(), reply.stderr_tail, spec_.limits.stderr_bytes, trunc);
      if (trunc) {
        reply.error = "call flooded stderr (more than " + std::to_string(spec_.limits.stderr_bytes) + " bytes)";
        return finish(fail(reply, HostKill::kOutput, rec));
      }
    }
    if (fds[0].revents) {
      bool trunc = false;
      std::size_t before = out_buf_.size();
      bool open = read_capped(box.stdout_r.get(), out_buf_, spec_.limits.stdout_bytes, trunc);
      auto nl = out_buf_.find('\n', before);
      if (nl != std::string::npos) {
        reply.ok = true;
        reply.line = out_buf_.substr(0, nl);
        out_buf_.erase(0, nl + 1);
        return finish(reply);
      }
      if (trunc) {
        reply.error = "call response exceeds " + std::to_string(spec_.limits.stdout_bytes) + " bytes";
        return finish(fail(reply, HostKill::kOutput, rec));
      }
      if (!open) {
        pollfd p{box.status_r.get(), POLLIN, 0};
        poll(&p, 1, 200);
        box_->poll_status(rec);
        return finish(fail(reply, HostKill::kNone, rec));
      }
    }
    if (fds[2].revents && box_->poll_status(rec)) return finish(fail(reply, HostKill::kNone, rec));
  }
}

}  // namespace envforge::sandbox
