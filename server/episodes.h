// Episodes: start (reset), step (a tool call or the final answer, run on the episode's pinned
// sandbox slot), end (recorded as a rollout, world dropped), the live-episode cap and the
// reaper of idle and overlong episodes. Transport-free: the WebSocket, HTTP and MCP front ends
// all go through this class. Replies come back through callbacks, on a sandbox thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include <nlohmann/json.hpp>

#include "server/catalog.h"
#include "server/rollout_writer.h"
#include "server/sandbox_pool.h"
#include "server/serve_options.h"

namespace envforge::server {

// An error in OpenEnv's terms: {"message", "code"} plus extra fields.
struct Failure {
  std::string code;     // e.g. "VALIDATION_ERROR", "CAPACITY_REACHED"
  std::string message;
  nlohmann::json extra = nlohmann::json::object();
  nlohmann::json to_json() const;  // the `data` of a WS error
};

namespace code {
inline constexpr const char* kInvalidJson = "INVALID_JSON";
inline constexpr const char* kUnknownType = "UNKNOWN_TYPE";
inline constexpr const char* kValidation = "VALIDATION_ERROR";
inline constexpr const char* kExecution = "EXECUTION_ERROR";
inline constexpr const char* kCapacity = "CAPACITY_REACHED";
inline constexpr const char* kEpisodeDone = "EPISODE_DONE";
inline constexpr const char* kEpisodeExpired = "EPISODE_EXPIRED";
inline constexpr const char* kShuttingDown = "SHUTTING_DOWN";
}  // namespace code

struct Episode {
  std::string episode_id;   // the client's, or generated
  std::string session_id;   // unguessable; names the episode on /mcp
  std::string world_token;  // unguessable; names its world directory in the sandbox
  std::string model;
  std::shared_ptr<const ServedEnvironment> env;
  const ServedTask* task = nullptr;
  std::shared_ptr<SandboxSlot> slot;
  bool recorded = true;     // false for stateless /step episodes
  int64_t started_at_ms = 0;
  std::chrono::steady_clock::time_point started;
  std::atomic<int64_t> last_active_ns{0};

  std::mutex mu;            // guards what follows
  int steps = 0;
  bool busy = false;        // a call is running
  bool done = false;        // answered, out of budget, or ended
  bool ended = false;       // end() ran: recorded, unpinned
  std::string end_reason;
  bool world_made = false;
  uint64_t world_epoch = 0;
  double reward = 0;
  bool passed = false;
  nlohmann::json verdict;
  nlohmann::json messages = nlohmann::json::array();

  void touch();
};

struct Verdict {
  double reward = 0;
  nlohmann::json components;  // {pass, score, reason, verdict}
};

class AuditWeb;

class EpisodeService {
 public:
  explicit EpisodeService(const ServeOptions& options);
  ~EpisodeService();

  using Started = std::variant<std::shared_ptr<Episode>, Failure>;
  // Starts an episode from reset data (OpenEnv's ResetRequest plus task_id, category,
  // difficulty, usable_only, model). Blocks while an environment loads the first time.
  Started start(const nlohmann::json& reset, bool recorded = true);
  // {"observation", "reward": null, "done": false} of a fresh episode.
  nlohmann::json reset_response(const Episode& e) const;
  // The same for stateless POST /reset: no episode lives on.
  std::variant<nlohmann::json, Failure> reset_stateless(const nlohmann::json& reset);

  // The reply to a step: {"observation", "reward", "done"} or a failure.
  using StepReply = std::variant<nlohmann::json, Failure>;
  using StepDone = std::function<void(StepReply)>;
  // Runs an action; `done` is called exactly once, maybe before step returns.
  void step(const std::shared_ptr<Episode>& e, const nlohmann::json& action, StepDone done);

  // Ends an episode (idempotent): recorded as a rollout with `reason`, world dropped.
  void end(const std::shared_ptr<Episode>& e, const std::string& reason);
  std::shared_ptr<Episode> find(const std::string& session_id);
  nlohmann::json state(const Episode* e) const;
  nlohmann::json mcp_tools(const Episode& e) const;

  using VerifyDone = std::function<void(std::variant<Verdict, Failure>)>;
  // Scores an answer to a task against its pristine world.
  void verify(const std::string& task_id, const nlohmann::json& answer, VerifyDone done);

  // Ends episodes idle or past their wall budget; closes idle sandbox sessions.
  void reap();
  // No new episodes from now on.
  void stop_accepting() { draining_ = true; }
  bool draining() const { return draining_; }
  // Ends every live episode with `reason`, waits for their records to be written.
  void end_all(const std::string& reason);
  size_t live() const;
  nlohmann::json stats() const;

  Catalog& catalog() { return catalog_; }
  // The audit web view's state (server/audit_web), made on its first use.
  AuditWeb& audit_web();
  const ServeOptions& options() const { return options_; }

 private:
  void run_tool(const std::shared_ptr<Episode>& e, const std::string& tool, const nlohmann::json& args,
                std::chrono::milliseconds timeout, StepDone done);
  void run_submit(const std::shared_ptr<Episode>& e, const nlohmann::json& answer, StepDone done);
  Verdict judge(SlotCalls& calls, const std::string* world_token, const ServedTask& task,
                const nlohmann::json& answer);
  void finish_locked(Episode& e, const std::string& reason);
  void release(const std::shared_ptr<Episode>& e);

  // Order matters at destruction: the pool's threads finish their jobs (which touch the
  // episode map and the writer) before the writer writes its last batch, and the sandboxes
  // are gone before the catalog removes the world files they mount.
  ServeOptions options_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Episode>> live_;  // by session id
  std::atomic<uint64_t> tool_calls_{0}, finished_{0}, started_{0};
  Catalog catalog_;
  RolloutWriter writer_;
  SandboxPool pool_;
  std::mutex audit_web_mu_;
  std::unique_ptr<AuditWeb> audit_web_;
};

// 32 lowercase hex characters from the system's random source.
std::string random_token();

}  // namespace envforge::server
