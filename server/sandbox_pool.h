// A bounded pool of warm sandboxed Python sessions per environment, shared by the episodes of
// that environment. Each session (a "slot") has its own worker thread and a FIFO of jobs, so
// calls of one session never overlap and a slow call delays only the episodes pinned to its
// slot. An episode is pinned to one slot for its whole life because its world copy lives in
// that slot's box (see episode_py.h); a box that had to be restarted lost those worlds, which
// the slot's epoch tells.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include <nlohmann/json.hpp>

#include "verifiers/python_runner.h"

namespace envforge::server {

// What a sandbox of one environment holds.
struct EnvironmentCode {
  std::string env_id;
  std::vector<verifiers::PythonFile> files;  // tools.py, the verifiers, envforge_episode.py
  std::optional<std::string> world_db;       // host path, bound read-only at /world/world.db
};

struct SandboxPoolOptions {
  int sessions_per_env = 4;
  int max_sessions = 32;        // over all environments
  bool isolate_calls = false;   // true: every call in a fresh fork of the warm interpreter
  int64_t memory_mb = 1536;     // per box: the interpreter plus its episodes' world copies
  int64_t tmpfs_mb = 1024;      // per box: room for the episodes' world copies
  std::chrono::seconds idle_close{120};  // a slot without episodes for this long is closed
};

// The calls a job may make on its slot's session.
class SlotCalls {
 public:
  virtual ~SlotCalls() = default;
  // Empty when the session runs; else why it could not start (every call then fails).
  virtual const std::string& start_error() const = 0;
  virtual verifiers::PythonResult call(std::string_view module, std::string_view function,
                                       const nlohmann::json& args, std::chrono::milliseconds timeout) = 0;
  virtual uint64_t epoch() const = 0;
};

// Counts running slot threads, so that the pool can wait for them at shutdown.
struct SlotThreads {
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
};

// The worker thread holds its slot alive until shutdown() let it finish its queue; the slot
// may therefore be released from any thread, its own included.
class SandboxSlot : public SlotCalls, public std::enable_shared_from_this<SandboxSlot> {
 public:
  using Job = std::function<void(SlotCalls&)>;
  static std::shared_ptr<SandboxSlot> start(std::shared_ptr<const EnvironmentCode> code,
                                            const SandboxPoolOptions& options,
                                            std::shared_ptr<SlotThreads> threads);
  SandboxSlot(std::shared_ptr<const EnvironmentCode> code, const SandboxPoolOptions& options);
  ~SandboxSlot() override;
  SandboxSlot(const SandboxSlot&) = delete;
  SandboxSlot& operator=(const SandboxSlot&) = delete;

  void post(Job job);
  // Runs the jobs already queued, then closes the session; later posts are dropped.
  void shutdown();
  const std::string& env_id() const { return code_->env_id; }
  uint64_t epoch() const override { return epoch_.load(); }

  // SlotCalls, for jobs (slot thread only).
  const std::string& start_error() const override { return start_error_; }
  verifiers::PythonResult call(std::string_view module, std::string_view function, const nlohmann::json& args,
                               std::chrono::milliseconds timeout) override;

  // Bookkeeping for the pool (under the pool's lock).
  int pinned = 0;
  std::chrono::steady_clock::time_point unpinned_at = std::chrono::steady_clock::now();

 private:
  void run(std::shared_ptr<SlotThreads> threads);

  std::shared_ptr<const EnvironmentCode> code_;
  SandboxPoolOptions options_;
  std::unique_ptr<verifiers::PythonSession> session_;
  std::string start_error_;
  std::atomic<uint64_t> epoch_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
};

class SandboxPool {
 public:
  explicit SandboxPool(SandboxPoolOptions options);
  ~SandboxPool();

  // The slot for a new episode of `code`'s environment: the least loaded one, a new one while
  // the environment is under its cap, or an idle slot of another environment replaced. Null
  // when every session of the pool is held by other environments' live episodes.
  std::shared_ptr<SandboxSlot> pin(const std::shared_ptr<const EnvironmentCode>& code);
  void unpin(const std::shared_ptr<SandboxSlot>& slot);
  // Runs `job` outside any episode (verification) on a slot chosen like pin's. False when
  // every session of the pool is held by other environments' live episodes.
  bool post_anywhere(const std::shared_ptr<const EnvironmentCode>& code, SandboxSlot::Job job);
  // Closes slots that held no episode for options.idle_close.
  void close_idle();
  size_t sessions() const;
  const SandboxPoolOptions& options() const { return options_; }

 private:
  std::shared_ptr<SandboxSlot> choose_locked(const std::shared_ptr<const EnvironmentCode>& code,
                                             std::vector<std::shared_ptr<SandboxSlot>>& retired);

  SandboxPoolOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<SandboxSlot>>> slots_;  // env id -> slots
  size_t total_ = 0;
  std::shared_ptr<SlotThreads> threads_ = std::make_shared<SlotThreads>();
};

}  // namespace envforge::server
