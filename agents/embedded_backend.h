// Our own engine as a backend: DeepSeek-V3.2's chat encoding of the conversation and tools,
// the tokenizer of the checkpoint, the batch engine (continuous batching and a prefix cache
// shared by every agent that calls this backend) on the GPU model runner when a GPU is there
// and the CPU forward pass otherwise, seeded sampling, and the DSML tool-call parsing of what
// the model wrote.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "agents/backend.h"
#include "model/text/chat_tokens.h"

namespace envforge::model {
class Model;
class BatchEngine;
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

 private:
  EmbeddedOptions options_;
  std::unique_ptr<model::Model> model_;  // the CPU model (before engine_, which uses it)
  std::unique_ptr<model::text::Tokenizer> tokenizer_;
  std::unique_ptr<model::BatchEngine> engine_;
  int eos_id_ = -1;
  std::atomic<std::uint64_t> calls_{0};
};

}  // namespace envforge::agents
