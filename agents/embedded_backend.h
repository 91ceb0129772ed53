// Our own engine as a backend: DeepSeek-V3.2's chat encoding of the conversation and tools,
// the tokenizer of the checkpoint, the batch engine (continuous batching and a prefix cache
// shared by every agent that calls this backend) on the GPU model runner when a GPU is there
// and the CPU forward pass otherwise, seeded sampling, and the DSML tool-call parsing of what
// the model wrote.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agents/backend.h"
#include "model/generator.h"
#include "model/text/chat_tokens.h"

namespace envforge::model {
class Model;
class BatchEngine;
class SequenceRunner;
}
namespace envforge::model::text {
class Tokenizer;
}

namespace envforge::agents {

struct EmbeddedOptions {
  std::string dir;  // config.json, safetensors shards, tokenizer.json
  model::text::ThinkingMode mode = model::text::ThinkingMode::kChat;
  int default_max_tokens = 512;  // when the request gives none
  // "auto": the GPU runner when this build has it and a GPU is visible, else the CPU;
  // "cpu" or "gpu" to insist (gpu fails without one).
  std::string device = "auto";
  int max_sequences = 64;            // requests decoded together
  size_t prefix_cache_pages = 4096;  // 0 turns the prefix cache off
  int max_context = 0;               // GPU: tokens per sequence; 0 = the model's
  // Tests wrap the loaded runner (e.g. to script which tokens the model picks).
  std::function<std::unique_ptr<model::SequenceRunner>(std::unique_ptr<model::SequenceRunner>)> wrap_runner;
};

// One chat request made ready for the engine.
struct EmbeddedCall {
  model::GenerationRequest generation;
  std::int64_t prompt_tokens = 0;
  model::text::ThinkingMode mode = model::text::ThinkingMode::kChat;
};

class EmbeddedBackend : public Backend {
 public:
  // Loads the checkpoint; throws BackendError(kConfig) naming the directory and the problem.
  explicit EmbeddedBackend(EmbeddedOptions options);
  ~EmbeddedBackend() override;

  // Thread-safe: concurrent calls share the engine's running batch.
  ChatResponse chat(const ChatRequest& request, const StreamCallback& on_stream = {}) override;
  std::string describe() const override { return "embedded:" + options_.dir; }
  // "cpu" or "gpu": where the forward pass runs.
  std::string device() const;
  const model::BatchEngine& engine() const { return *engine_; }
  model::BatchEngine& engine() { return *engine_; }
  const model::text::Tokenizer& tokenizer() const { return *tokenizer_; }
  model::text::ThinkingMode mode() const { return options_.mode; }
  int default_max_tokens() const { return options_.default_max_tokens; }

  // The pieces of chat(), for servers that run the engine themselves (the OpenAI-compatible
  // endpoint) and must answer exactly as chat() does.
  // Encodes and tokenizes the conversation. Throws BackendError(kConfig) when it cannot be
  // encoded or does not fit the model's context.
  EmbeddedCall prepare(const ChatRequest& request, model::text::ThinkingMode mode);
  // The reply to a finished call (message, finish reason, usage); no timing.
  ChatResponse respond(const EmbeddedCall& call, const model::GenerationResult& result) const;

 private:
  model::ForcedTokens forced_tool_call(const ChatRequest& request, model::text::ThinkingMode mode) const;

  EmbeddedOptions options_;
  std::unique_ptr<model::Model> model_;  // the CPU model (before engine_, which uses it)
  std::unique_ptr<model::text::Tokenizer> tokenizer_;
  std::unique_ptr<model::BatchEngine> engine_;
  int eos_id_ = -1;
  std::atomic<std::uint64_t> calls_{0};
};

}  // namespace envforge::agents
