// The serving engine: continuous batching over a SequenceRunner (CPU or GPU) with a prefix
// cache. Requests from any number of threads join the running batch at the next step and
// leave it when they finish; each step runs one token of every decoding sequence together
// with chunks of the prompts being prefilled, up to a token budget. A request's prompt
// starts from the longest cached prefix of full pages; finished prompts (and conversations)
// are recorded in the cache, and a request whose prompt shares full pages with a prompt still
// being computed waits for it instead of computing them again. Greedy output and seeded sampling are those of generate() on
// the same request alone: every sequence samples from its own logits with its own sampler.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/generator.h"
#include "model/prefix_cache.h"
#include "model/sequence_runner.h"

namespace envforge::model {

struct EngineOptions {
  int max_step_tokens = 0;  // tokens per forward step; 0 = the runner's
  int prefill_chunk = 0;    // prompt tokens of one sequence per step; 0 = max_step_tokens
  size_t prefix_cache_pages = 4096;  // pages the prefix cache may hold; 0 turns it off
  // Needed for stop strings and GenerationResult::text.
  std::function<std::string(const std::vector<int32_t>&)> detokenize;
};

struct EngineStats {
  long steps = 0;
  long mixed_steps = 0;     // steps that prefilled and decoded together
  long decode_tokens = 0;
  long prefill_tokens = 0;  // prompt tokens computed (cache hits excluded)
  int max_batch = 0;        // most sequences in one step
  long finished = 0;
  PrefixCacheStats prefix;
};

// Called on the scheduler thread for every kept token, with its log-probability when the
// request asked for them (else null); returning false cancels the request.
using TokenCallback = std::function<bool(int32_t token, const TokenLogprob* logprob)>;
// Called on the scheduler thread once the request's future is ready (result or error), so
// that a server can answer without a thread blocked on the future.
using DoneCallback = std::function<void()>;

class BatchEngine {
 public:
  // Starts the scheduler thread. Throws std::invalid_argument for bad options.
  explicit BatchEngine(std::unique_ptr<SequenceRunner> runner, EngineOptions options = {});
  // Stops the scheduler; requests still queued or running fail with std::runtime_error.
  ~BatchEngine();
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  // Queues a request. Throws std::invalid_argument at once for an empty or overlong prompt,
  // token ids outside the vocabulary, bad sampling parameters, or stop strings without a
  // detokenizer; failures of the forward pass arrive through the future.
  std::future<GenerationResult> submit(GenerationRequest request, TokenCallback on_token = {},
                                       DoneCallback on_done = {});
  // submit(...).get()
  GenerationResult generate(GenerationRequest request, TokenCallback on_token = {});

  const ModelConfig& config() const { return runner_->config(); }
  const SequenceRunner& runner() const { return *runner_; }
  EngineStats stats() const;

 private:
  struct Request;
  void run();
  void step(std::vector<std::unique_ptr<Request>>& active);
  bool admit(std::vector<std::unique_ptr<Request>>& active);
  // Whether r shares a full page of its prompt with a prompt still being prefilled: the K
  // attempts of a task that arrive together then compute their shared prompt once.
  bool waits_for_prefix(const Request& r, const std::vector<std::unique_ptr<Request>>& active) const;
  // Samples the request's next token from `logits`; false when it finished. Throws what the
  // sampler or the request's callbacks throw.
  bool advance(Request& r, const float* logits);
  void cache_pages(Request& r);
  void finish(Request& r);
  void fail(Request& r, std::exception_ptr error);
  void notify_done(Request& r);

  std::unique_ptr<SequenceRunner> runner_;
  EngineOptions options_;
  PrefixCache prefix_;  // after runner_: its pages go back before the runner does
  int step_tokens_ = 0, chunk_ = 0;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Request>> queue_;
  bool stopping_ = false;
  EngineStats stats_;
  std::thread scheduler_;
};

}  // namespace envforge::model
