#include "sandbox/run_box.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "sandbox/box_handle.h"
#include "sandbox/collect.h"
#include "sandbox/spec_check.h"

namespace envforge::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

std::string precheck_spec(const Spec& spec) {
  std::string bad = check_spec(spec.argv, spec.env, spec.files, spec.ro_binds, spec.limits);
  if (!bad.empty()) return bad;
  for (const auto& b : spec.ro_binds) {
    struct stat st;
    if (stat(b.host_path.c_str(), &st) != 0)
      return "bind host path '" + b.host_path + "': " + std::strerror(errno);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      return "bind host path '" + b.host_path + "' is neither a file nor a directory";
  }
  for (const auto& c : spec.collect) {
    if (!is_clean_relative_path(c)) return "collect path '" + c + "' is not a clean relative path";
  }
  return {};
}

Result run_box(const std::shared_ptr<LauncherClient>& launcher, const Spec& spec) {
  Result res;
  res.limits_mode = launcher->modes();
  if (std::string bad = precheck_spec(spec); !bad.empty()) {
    res.verdict = Verdict::kSandboxError;
    res.message = "invalid spec: " + bad;
    return res;
  }
  std::optional<BoxHandle> handle;
  try {
    handle.emplace(launcher, launcher->launch(to_launch_request(spec)));
  } catch (const std::exception& e) {
    res.verdict = Verdict::kSandboxError;
    res.message = e.what();
    return res;
  }
  LaunchedBox& box = handle->box();
  const Limits& l = spec.limits;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(l.wall_ms);
  std::size_t stdin_off = 0;
  if (spec.stdin_data.empty()) box.stdin_w.reset();
  bool out_open = true, err_open = true, status_done = false;
  std::optional<StatusRecord> record;
  HostKill host_kill = HostKill::kNone;
  Clock::time_point drain_deadline{};

  while (out_open || err_open || !status_done) {
    const auto now = Clock::now();
    if (!status_done && now >= deadline) {
      host_kill = HostKill::kWall;
      break;
    }
    // After the payload ended, its pipes close at once (the reaper killed the rest);
    // a short grace bounds the drain anyway.
    if (status_done && now >= drain_deadline) break;
    pollfd fds[4];
    int n = 0;
    int i_out = -1, i_err = -1, i_status = -1, i_in = -1;
    if (out_open) fds[i_out = n++] = {box.stdout_r.get(), POLLIN, 0};
    if (err_open) fds[i_err = n++] = {box.stderr_r.get(), POLLIN, 0};
    if (!status_done) fds[i_status = n++] = {box.status_r.get(), POLLIN, 0};
    if (box.stdin_w) fds[i_in = n++] = {box.stdin_w.get(), POLLOUT, 0};
    auto until = status_done ? drain_deadline : deadline;
    int wait_ms = static_cast<int>(
        std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1));
    int r = poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (i_out >= 0 && fds[i_out].revents) {
      out_open = read_capped(box.stdout_r.get(), res.stdout_data, l.stdout_bytes, res.stdout_truncated);
      if (res.stdout_truncated) host_kill = HostKill::kOutput;
    }
    if (i_err >= 0 && fds[i_err].revents) {
      err_open = read_capped(box.stderr_r.get(), res.stderr_data, l.stderr_bytes, res.stderr_truncated);
      if (res.stderr_truncated) host_kill = HostKill::kOutput;
    }
    if (host_kill == HostKill::kOutput) break;
    if (i_in >= 0 && fds[i_in].revents) {
      if (fds[i_in].revents & (POLLERR | POLLHUP)) {
        box.stdin_w.reset();  // the payload closed its stdin: fine
      } else {
        ssize_t w = write(box.stdin_w.get(), spec.stdin_data.data() + stdin_off, spec.stdin_data.size() - stdin_off);
        if (w > 0) stdin_off += static_cast<std::size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_off == spec.stdin_data.size()) box.stdin_w.reset();
      }
    }
    if (i_status >= 0 && fds[i_status].revents && handle->poll_status(record)) {
      status_done = true;
      res.wall_ms = ms_since(start);
      drain_deadline = Clock::now() + std::chrono::milliseconds(500);
    }
  }
  if (!status_done) res.wall_ms = ms_since(start);
  if (record && record->kind == BoxEnd::kExited && host_kill == HostKill::kNone && !spec.collect.empty()) {
    std::string notes;
    res.files = collect_files(box.pid, box.pidfd.get(), spec.collect, spec.collect_max_bytes, notes);
    if (!notes.empty()) res.message = notes;
  }
  std::string collect_notes = res.message;
  wire::ReleaseReply usage;
  try {
    usage = handle->release();
  } catch (const std::exception& e) {
    res.verdict = Verdict::kSandboxError;
    res.message = e.what();
    return res;
  }
  // What a killed box still had in its pipes is kept (up to the caps).
  if (out_open) read_capped(box.stdout_r.get(), res.stdout_data, l.stdout_bytes, res.stdout_truncated);
  if (err_open) read_capped(box.stderr_r.get(), res.stderr_data, l.stderr_bytes, res.stderr_truncated);
  VerdictInputs in;
  in.record = record ? &*record : nullptr;
  in.host_kill = host_kill;
  in.usage = usage;
  in.modes = box.modes;
  in.limits = &l;
  in.stderr_data = res.stderr_data;
  res.message.clear();
  decide_verdict(in, res);
  if (!collect_notes.empty()) res.message += (res.message.empty() ? "" : "; ") + collect_notes;
  return res;
}

}  // namespace envforge::sandbox
