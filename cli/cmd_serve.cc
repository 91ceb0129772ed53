// envforge serve: the environment server RL trainers play envforge environments through
// (OpenEnv's protocol plus /tasks, /verify, /get_reward; see server/PROTOCOL.md).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <cxxopts.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/job_config.h"
#include "cli/logging.h"
#include "cli/token_file.h"
#include "sandbox/sandbox.h"
#include "server/server.h"

namespace envforge::cli {

namespace {

int serve_main(int argc, char** argv) {
  cxxopts::Options options("envforge serve",
                           "Serve a corpus's environments to RL trainers (OpenEnv protocol over HTTP and WebSocket).");
  options.add_options()
      ("corpus", "corpus file to serve (rollouts of played episodes are recorded in it)", cxxopts::value<std::string>())
      ("host", "address to bind; beyond loopback a token is required", cxxopts::value<std::string>()->default_value("127.0.0.1"))
      ("port", "port to bind (0: any free port, printed at start)", cxxopts::value<int64_t>()->default_value("8000"))
      ("token-file", "file of bearer tokens clients must send, one a line, `name:token` to name its holder "
                     "(else ENVFORGE_SERVE_TOKEN)",
       cxxopts::value<std::string>()->default_value(""))
      ("max-episodes", "live episodes at most; more resets get CAPACITY_REACHED", cxxopts::value<int64_t>()->default_value("4096"))
      ("max-steps", "tool calls per episode", cxxopts::value<int64_t>()->default_value("64"))
      ("episode-wall-s", "wall-clock budget of an episode", cxxopts::value<int64_t>()->default_value("1800"))
      ("idle-s", "an episode without a call for this long is ended", cxxopts::value<int64_t>()->default_value("300"))
      ("call-timeout-s", "time limit of one tool call", cxxopts::value<double>()->default_value("30"))
      ("verify-timeout-s", "time limit of one verifier run", cxxopts::value<double>()->default_value("60"))
      ("drain-s", "on SIGTERM, how long live episodes may go on", cxxopts::value<int64_t>()->default_value("30"))
      ("max-body-bytes", "largest HTTP request body", cxxopts::value<int64_t>()->default_value("1048576"))
      ("max-frame-bytes", "largest WebSocket message", cxxopts::value<int64_t>()->default_value("1048576"))
      ("io-threads", "threads serving connections", cxxopts::value<int64_t>()->default_value("2"))
      ("sessions-per-env", "warm sandbox sessions per environment", cxxopts::value<int64_t>()->default_value("4"))
      ("max-sessions", "warm sandbox sessions over all environments", cxxopts::value<int64_t>()->default_value("32"))
      ("isolate-calls", "run every call in a fresh fork of the warm interpreter (slower; see PROTOCOL.md)",
       cxxopts::value<bool>()->default_value("false"))
      ("reward", "binary (1 pass, 0 fail) or score (the verifier's partial score)",
       cxxopts::value<std::string>()->default_value("binary"));
  add_config_option(options);
  add_logging_options(options);
  add_help_option(options);
  auto flags = parse_flags(options, argc, argv);
  if (!flags) return 0;
  JobConfig cfg = JobConfig::resolve(options, *flags);
  if (cfg.source("corpus") == "unset") throw UsageError("--corpus FILE is required");
  server::ServeOptions o;
  o.corpus = cfg.get_string("corpus");
  o.host = cfg.get_string("host");
  auto in_range = [&](const char* key, int64_t lo, int64_t hi) {
    const int64_t v = cfg.get_int(key);
    if (v < lo || v > hi)
      throw UsageError(std::string("--") + key + " must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    return v;
  };
  o.port = static_cast<uint16_t>(in_range("port", 0, 65535));
  o.max_episodes = static_cast<int>(in_range("max-episodes", 1, 1 << 20));
  o.max_steps = static_cast<int>(in_range("max-steps", 1, 1 << 20));
  o.episode_wall = std::chrono::seconds(in_range("episode-wall-s", 1, 7 * 86400));
  o.idle = std::chrono::seconds(in_range("idle-s", 1, 7 * 86400));
  o.drain = std::chrono::seconds(in_range("drain-s", 0, 86400));
  o.max_body_bytes = static_cast<size_t>(in_range("max-body-bytes", 1024, int64_t{1} << 30));
  o.max_frame_bytes = static_cast<size_t>(in_range("max-frame-bytes", 1024, int64_t{1} << 30));
  o.io_threads = static_cast<int>(in_range("io-threads", 1, 256));
  o.pool.sessions_per_env = static_cast<int>(in_range("sessions-per-env", 1, 256));
  o.pool.max_sessions = static_cast<int>(in_range("max-sessions", 1, 4096));
  o.pool.isolate_calls = cfg.get_bool("isolate-calls");
  for (auto [key, out] : {std::pair{"call-timeout-s", &o.call_timeout}, std::pair{"verify-timeout-s", &o.verify_timeout}}) {
    const double s = cfg.get_double(key);
    if (!(s > 0 && s <= 86400)) throw UsageError(std::string("--") + key + " must be > 0 and at most 86400");
    *out = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
  }
  const std::string reward = cfg.get_string("reward");
  if (reward != "binary" && reward != "score") throw UsageError("--reward must be binary or score");
  o.reward_is_score = reward == "score";
  const ServerTokens tokens = server_tokens(cfg.get_string("token-file"));
  o.token = tokens.token;
  o.users = tokens.users;
  if (tokens.empty() && !server::is_loopback_host(o.host))
    throw UsageError("--host " + o.host + " is beyond loopback: a token is required (--token-file FILE or ENVFORGE_SERVE_TOKEN)");
  setup_logging(logging_options(*flags));

  struct stat st{};
  if (::stat(o.corpus.c_str(), &st) != 0) {
    std::fprintf(stderr, "envforge serve: corpus %s: no such file\n", o.corpus.c_str());
    return 1;
  }
  try {
    sandbox::Sandbox::shared();  // start the launcher while this process is small
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge serve: the sandbox cannot start: %s\n", e.what());
    return 1;
  }
  try {
    server::Server srv(o);
    // Machine-readable first line on stdout: scripts and tests wait for it.
    std::printf("envforge serve: listening on http://%s:%u\n", o.host.c_str(), static_cast<unsigned>(srv.port()));
    std::fflush(stdout);
    spdlog::info("serving {} on {}:{} (max {} live episodes{})", o.corpus, o.host, srv.port(), o.max_episodes,
                 o.token.empty() && o.users.empty() ? "" : ", token required");
    srv.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge serve: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_serve(int argc, char** argv) { return run_with_usage_errors("serve", serve_main, argc, argv); }

}  // namespace envforge::cli
