// A launched box as the host drives it: non-blocking pipes, the status record, the
// kill through its pidfd, and the release that returns cgroup usage. Dropping a handle
// always kills and releases the box.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sandbox/launcher_client.h"
#include "sandbox/spec.h"
#include "sandbox/status_record.h"

namespace envforge::sandbox {

class BoxHandle {
 public:
  BoxHandle(std::shared_ptr<LauncherClient> launcher, LaunchedBox box);
  ~BoxHandle();
  BoxHandle(const BoxHandle&) = delete;
  BoxHandle& operator=(const BoxHandle&) = delete;

  LaunchedBox& box() { return box_; }
  const LaunchedBox& box() const { return box_; }
  void kill();
  // Kills (if needed), waits, and returns the box's cgroup usage. Once.
  wire::ReleaseReply release();

  // Reads the status record when it is (completely) there. Returns true when the
  // status pipe has something final: a record (`rec` set) or EOF (reaper died).
  bool poll_status(std::optional<StatusRecord>& rec);

 private:
  std::shared_ptr<LauncherClient> launcher_;
  LaunchedBox box_;
  bool released_ = false;
  std::string status_buf_;
};

// Spec -> what the launcher needs; throws nothing.
wire::LaunchRequest to_launch_request(const Spec& spec);

// Why the host ended a box early.
enum class HostKill { kNone, kWall, kOutput };

// The verdict from what the box reported and what the host did to it.
struct VerdictInputs {
  const StatusRecord* record = nullptr;  // null: the reaper reported nothing
  HostKill host_kill = HostKill::kNone;
  wire::ReleaseReply usage;
  LimitModes modes;
  const Limits* limits = nullptr;
  std::string_view stderr_data;  // what the payload last said, for a refused allocation
};
void decide_verdict(const VerdictInputs& in, Result& out);

// Reads up to `cap` bytes into `buf` from a non-blocking fd; sets `truncated` when more
// arrived than fits. Returns false at EOF.
bool read_capped(int fd, std::string& buf, std::size_t cap, bool& truncated);

}  // namespace envforge::sandbox
