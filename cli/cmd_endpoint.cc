// envforge endpoint: the embedded model behind an OpenAI-compatible HTTP API, so that agents
// and trainers outside envforge (and `openai:` backends) can use it (see server/ENDPOINT.md).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <cxxopts.hpp>
#include <spdlog/spdlog.h>

#include "agents/embedded_backend.h"
#include "cli/commands.h"
#include "cli/job_config.h"
#include "cli/logging.h"
#include "cli/token_file.h"
#include "model/batch_engine.h"
#include "server/openai_endpoint.h"
#include "server/server.h"

namespace envforge::cli {

namespace {

int endpoint_main(int argc, char** argv) {
  cxxopts::Options options("envforge endpoint",
                           "Serve the embedded model over an OpenAI-compatible API (/v1/chat/completions).");
  options.add_options()
      ("model", "checkpoint directory (config.json, safetensors, tokenizer.json)", cxxopts::value<std::string>())
      ("served-model-name", "the model name clients send (default: the directory's name)",
       cxxopts::value<std::string>()->default_value(""))
      ("host", "address to bind; beyond loopback a token is required", cxxopts::value<std::string>()->default_value("127.0.0.1"))
      ("port", "port to bind (0: any free port, printed at start)", cxxopts::value<int64_t>()->default_value("8000"))
      ("token-file", "file holding the bearer token clients must send (else ENVFORGE_SERVE_TOKEN)",
       cxxopts::value<std::string>()->default_value(""))
      ("device", "auto, cpu or gpu", cxxopts::value<std::string>()->default_value("auto"))
      ("max-batch", "sequences decoded together", cxxopts::value<int64_t>()->default_value("64"))
      ("max-queued", "generations running or waiting at once; more get 429", cxxopts::value<int64_t>()->default_value("256"))
      ("max-n", "choices per request at most", cxxopts::value<int64_t>()->default_value("16"))
      ("max-context", "GPU: tokens per sequence (0: the model's)", cxxopts::value<int64_t>()->default_value("0"))
      ("default-max-tokens", "tokens to generate when a request gives no max_tokens",
       cxxopts::value<int64_t>()->default_value("512"))
      ("prefix-cache-pages", "pages of the prefix cache (0: off)", cxxopts::value<int64_t>()->default_value("4096"))
      ("thinking", "thinking mode unless a request says otherwise", cxxopts::value<bool>()->default_value("false"))
      ("max-body-bytes", "largest request body", cxxopts::value<int64_t>()->default_value("8388608"))
      ("io-threads", "threads serving connections", cxxopts::value<int64_t>()->default_value("2"));
  add_config_option(options);
  add_logging_options(options);
  add_help_option(options);
  auto flags = parse_flags(options, argc, argv);
  if (!flags) return 0;
  JobConfig cfg = JobConfig::resolve(options, *flags);
  if (cfg.source("model") == "unset") throw UsageError("--model DIR is required");
  auto in_range = [&](const char* key, int64_t lo, int64_t hi) {
    const int64_t v = cfg.get_int(key);
    if (v < lo || v > hi)
      throw UsageError(std::string("--") + key + " must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    return v;
  };
  agents::EmbeddedOptions eo;
  eo.dir = cfg.get_string("model");
  eo.device = cfg.get_string("device");
  eo.max_sequences = static_cast<int>(in_range("max-batch", 1, 4096));
  eo.max_context = static_cast<int>(in_range("max-context", 0, 1 << 24));
  eo.default_max_tokens = static_cast<int>(in_range("default-max-tokens", 1, 1 << 24));
  eo.prefix_cache_pages = static_cast<size_t>(in_range("prefix-cache-pages", 0, int64_t{1} << 32));
  eo.mode = cfg.get_bool("thinking") ? model::text::ThinkingMode::kThinking : model::text::ThinkingMode::kChat;
  server::EndpointOptions o;
  o.host = cfg.get_string("host");
  o.port = static_cast<uint16_t>(in_range("port", 0, 65535));
  o.max_queued = static_cast<int>(in_range("max-queued", 1, 1 << 20));
  o.max_body_bytes = static_cast<size_t>(in_range("max-body-bytes", 1024, int64_t{1} << 30));
  o.io_threads = static_cast<int>(in_range("io-threads", 1, 256));
  o.limits.max_n = static_cast<int>(in_range("max-n", 1, 1024));
  o.limits.default_mode = eo.mode;
  o.limits.model_name = cfg.get_string("served-model-name");
  if (o.limits.model_name.empty())
    o.limits.model_name = std::filesystem::path(eo.dir).lexically_normal().filename().string();
  if (o.limits.model_name.empty()) o.limits.model_name = std::filesystem::path(eo.dir).lexically_normal().parent_path().filename().string();
  o.handle_signals = true;
  const ServerTokens tokens = server_tokens(cfg.get_string("token-file"));
  if (!tokens.users.empty())
    throw UsageError("--token-file: envforge endpoint takes one bare token (named tokens name auditors of envforge serve)");
  o.token = tokens.token;
  if (o.token.empty() && !server::is_loopback_host(o.host))
    throw UsageError("--host " + o.host + " is beyond loopback: a token is required (--token-file FILE or ENVFORGE_SERVE_TOKEN)");
  setup_logging(logging_options(*flags));
  try {
    agents::EmbeddedBackend backend(eo);
    server::Endpoint endpoint(backend, o);
    // Machine-readable first line on stdout: scripts and tests wait for it.
    std::printf("envforge endpoint: listening on http://%s:%u/v1 (model %s)\n", o.host.c_str(),
                static_cast<unsigned>(endpoint.port()), o.limits.model_name.c_str());
    std::fflush(stdout);
    spdlog::info("serving {} as \"{}\" on {} ({}, max batch {}{})", eo.dir, o.limits.model_name, o.host,
                 backend.device(), eo.max_sequences, o.token.empty() ? "" : ", token required");
    endpoint.run();
    const auto s = endpoint.stats();
    const auto e = backend.engine().stats();
    spdlog::info("stopped: {} requests, {} refused as busy, {} cancelled; engine max batch {}, {} steps", s.requests,
                 s.rejected_busy, s.cancelled, e.max_batch, e.steps);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge endpoint: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_endpoint(int argc, char** argv) { return run_with_usage_errors("endpoint", endpoint_main, argc, argv); }

}  // namespace envforge::cli
