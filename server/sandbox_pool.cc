#include "server/sandbox_pool.h"

#include <sys/resource.h>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace envforge::server {

namespace {

namespace et = verifiers::error_type;

// Runner-level failures after which the session's box is gone (and with it the worlds of the
// episodes pinned there); error types named by Python exceptions leave the box alive.
bool box_lost(const verifiers::PythonResult& r) {
  return !r.ok && (r.error_type == et::kTimeout || r.error_type == et::kMemoryLimit ||
                   r.error_type == et::kOutputLimit || r.error_type == et::kCrash ||
                   r.error_type == et::kPolicy || r.error_type == et::kSandboxError);
}

// Every live episode pinned to a box holds its world open (a descriptor or two), and thousands
// may share one box: the served box may open as many files as this process may.
int served_open_files() {
  constexpr rlim_t kWanted = 16384;
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  rlim_t n = std::min(kWanted, r.rlim_max);
  return static_cast<int>(std::max<rlim_t>(n, 256));
}

}  // namespace

SandboxSlot::SandboxSlot(std::shared_ptr<const EnvironmentCode> code, const SandboxPoolOptions& options)
    : code_(std::move(code)), options_(options) {}

SandboxSlot::~SandboxSlot() = default;

std::shared_ptr<SandboxSlot> SandboxSlot::start(std::shared_ptr<const EnvironmentCode> code,
                                                const SandboxPoolOptions& options,
                                                std::shared_ptr<SlotThreads> threads) {
  auto slot = std::make_shared<SandboxSlot>(std::move(code), options);
  {
    std::lock_guard lock(threads->mu);
    ++threads->running;
  }
  std::thread([slot, threads]() mutable { slot->run(std::move(threads)); }).detach();
  return slot;
}

void SandboxSlot::post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void SandboxSlot::shutdown() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
}

verifiers::PythonResult SandboxSlot::call(std::string_view module, std::string_view function,
                                          const nlohmann::json& args, std::chrono::milliseconds timeout) {
  if (!session_) {
    verifiers::PythonResult r;
    r.error_type = et::kSandboxError;
    r.message = start_error_;
    return r;
  }
  verifiers::PythonResult r = session_->call(module, function, args, timeout);
  if (box_lost(r)) {
    // The next call starts a fresh box; make it start now, so that the epoch is exact for
    // every episode that asks afterwards.
    ++epoch_;
    session_->call("envforge_episode", "ping", nlohmann::json::object(), std::chrono::seconds(30));
  }
  return r;
}

void SandboxSlot::run(std::shared_ptr<SlotThreads> threads) {
  std::shared_ptr<SandboxSlot> self = shared_from_this();
  try {
    verifiers::PythonOptions o;
    o.files = code_->files;
    o.world_db = code_->world_db;
    o.isolate_calls = options_.isolate_calls;
    // A served box lives as long as the server; its calls have their own limits.
    o.limits.wall_ms = int64_t{30} * 24 * 3600 * 1000;
    o.limits.cpu_ms = int64_t{30} * 24 * 3600 * 1000;
    o.limits.memory_mb = options_.memory_mb;
    o.limits.tmpfs_mb = options_.tmpfs_mb;
    o.limits.open_files = served_open_files();
    session_ = std::make_unique<verifiers::PythonSession>(std::move(o));
  } catch (const std::exception& e) {
    start_error_ = std::string("the sandbox of environment ") + code_->env_id + " did not start: " + e.what();
    spdlog::error("{}", start_error_);
  }
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job(*this);
    } catch (const std::exception& e) {
      spdlog::error("sandbox job of environment {} failed: {}", code_->env_id, e.what());
    }
  }
  session_.reset();
  {
    std::lock_guard lock(threads->mu);
    --threads->running;
  }
  threads->cv.notify_all();
  // `self` goes last: the slot may end here, on its own thread, which owns nothing else.
}

SandboxPool::SandboxPool(SandboxPoolOptions options) : options_(std::move(options)) {}

SandboxPool::~SandboxPool() {
  {
    std::lock_guard lock(mu_);
    for (auto& [env, slots] : slots_)
      for (auto& s : slots) s->shutdown();
    slots_.clear();
    total_ = 0;
  }
  std::unique_lock lock(threads_->mu);
  threads_->cv.wait(lock, [&] { return threads_->running == 0; });
}

std::shared_ptr<SandboxSlot> SandboxPool::choose_locked(const std::shared_ptr<const EnvironmentCode>& code,
                                                        std::vector<std::shared_ptr<SandboxSlot>>& retired) {
  auto& mine = slots_[code->env_id];
  SandboxSlot* best = nullptr;
  for (auto& s : mine)
    if (!best || s->pinned < best->pinned) best = s.get();
  const bool room_here = static_cast<int>(mine.size()) < options_.sessions_per_env;
  if (best && (best->pinned == 0 || !room_here)) {
    for (auto& s : mine)
      if (s.get() == best) return s;
  }
  if (room_here && total_ >= static_cast<size_t>(options_.max_sessions)) {
    // Replace the longest-idle slot of another environment.
    std::shared_ptr<SandboxSlot>* victim = nullptr;
    std::string victim_env;
    for (auto& [env, slots] : slots_) {
      if (env == code->env_id) continue;
      for (auto& s : slots)
        if (s->pinned == 0 && (!victim || s->unpinned_at < (*victim)->unpinned_at)) {
          victim = &s;
          victim_env = env;
        }
    }
    if (victim) {
      retired.push_back(*victim);
      auto& v = slots_[victim_env];
      v.erase(std::find(v.begin(), v.end(), *victim));
      if (v.empty()) slots_.erase(victim_env);
      --total_;
    }
  }
  auto& mine2 = slots_[code->env_id];  // the map may have changed above
  if (static_cast<int>(mine2.size()) < options_.sessions_per_env && total_ < static_cast<size_t>(options_.max_sessions)) {
    mine2.push_back(SandboxSlot::start(code, options_, threads_));
    ++total_;
    return mine2.back();
  }
  if (best) {
    for (auto& s : mine2)
      if (s.get() == best) return s;
  }
  if (mine2.empty()) slots_.erase(code->env_id);
  return nullptr;
}

std::shared_ptr<SandboxSlot> SandboxPool::pin(const std::shared_ptr<const EnvironmentCode>& code) {
  std::vector<std::shared_ptr<SandboxSlot>> retired;
  std::shared_ptr<SandboxSlot> slot;
  {
    std::lock_guard lock(mu_);
    slot = choose_locked(code, retired);
    if (slot) ++slot->pinned;
  }
  for (auto& r : retired) r->shutdown();
  return slot;
}

bool SandboxPool::post_anywhere(const std::shared_ptr<const EnvironmentCode>& code, SandboxSlot::Job job) {
  std::vector<std::shared_ptr<SandboxSlot>> retired;
  bool posted = false;
  {
    // Posted under the lock: a slot in the map has not been shut down.
    std::lock_guard lock(mu_);
    if (auto slot = choose_locked(code, retired)) {
      if (slot->pinned == 0) slot->unpinned_at = std::chrono::steady_clock::now();
      slot->post(std::move(job));
      posted = true;
    }
  }
  for (auto& r : retired) r->shutdown();
  return posted;
}

void SandboxPool::unpin(const std::shared_ptr<SandboxSlot>& slot) {
  std::lock_guard lock(mu_);
  if (--slot->pinned == 0) slot->unpinned_at = std::chrono::steady_clock::now();
}

void SandboxPool::close_idle() {
  std::vector<std::shared_ptr<SandboxSlot>> retired;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = slots_.begin(); it != slots_.end();) {
      auto& v = it->second;
      for (auto s = v.begin(); s != v.end();) {
        if ((*s)->pinned == 0 && now - (*s)->unpinned_at > options_.idle_close) {
          retired.push_back(*s);
          s = v.erase(s);
          --total_;
        } else {
          ++s;
        }
      }
      it = v.empty() ? slots_.erase(it) : std::next(it);
    }
  }
  for (auto& r : retired) r->shutdown();
}

size_t SandboxPool::sessions() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace envforge::server
