// Settings of `envforge serve` (flags in cli/cmd_serve.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/sandbox_pool.h"

namespace envforge::server {

// One bearer token and the name audits record for whoever holds it.
struct ServeUser {
  std::string name;
  std::string token;
};

struct ServeOptions {
  std::string corpus;
  std::string host = "127.0.0.1";
  uint16_t port = 8000;            // 0: any free port (the bound one is logged and in port())
  std::string token;               // empty: no authentication (loopback only)
  std::vector<ServeUser> users;    // named tokens (--token-file lines name:token), besides `token`
  int io_threads = 2;
  int max_episodes = 4096;         // live episodes; more resets get CAPACITY_REACHED
  int max_steps = 64;              // tool calls per episode
  std::chrono::seconds episode_wall{1800};
  std::chrono::seconds idle{300};
  std::chrono::milliseconds call_timeout{30000};
  std::chrono::milliseconds verify_timeout{60000};
  std::chrono::seconds drain{30};
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_frame_bytes = 1 << 20;
  bool reward_is_score = false;    // false: 1 pass / 0 fail; true: the verifier's score
  std::string scratch_dir;         // world files; empty: a fresh directory under /tmp
  SandboxPoolOptions pool;
};

}  // namespace envforge::server
