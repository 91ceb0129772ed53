// What the batch engine drives: a forward pass over live sequences that each own a paged
// cache, on the CPU (CpuRunner) or a GPU (gpu::GpuRunner). Full cache pages can be handed out
// as shared references and a new sequence can start from them, which is all a prefix cache
// needs. Runners are not thread-safe: one thread (the engine's scheduler) calls them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"

namespace envforge::model {

// A full cache page (page_size tokens, every layer) held by reference; the runner reclaims
// it when the last holder (a sequence or the prefix cache) lets go.
class SharedPage {
 public:
  virtual ~SharedPage() = default;
};
using PageRef = std::shared_ptr<const SharedPage>;

struct RunnerItem {
  int seq;
  std::span<const int32_t> tokens;  // appended to the sequence
};

class SequenceRunner {
 public:
  virtual ~SequenceRunner() = default;
  virtual const ModelConfig& config() const = 0;
  virtual std::string name() const = 0;          // "cpu", "gpu"
  virtual int max_sequences() const = 0;         // alive at once
  virtual int max_context() const = 0;           // tokens per sequence
  virtual int page_size() const = 0;             // tokens per cache page
  virtual int max_step_tokens() const = 0;       // tokens one forward step takes well
  // Pages a step may still allocate; -1 when memory is not pooled (CPU).
  virtual long free_pages() const = 0;

  // A new sequence starting with `prefix` (full pages from pages() of this runner; its length
  // becomes prefix.size() * page_size()). Throws std::runtime_error when max_sequences are
  // alive, std::invalid_argument for pages of another runner.
  virtual int new_sequence(const std::vector<PageRef>& prefix = {}) = 0;
  virtual void release_sequence(int seq) = 0;
  virtual int length(int seq) const = 0;
  // References to the first n full pages of a live sequence.
  virtual std::vector<PageRef> pages(int seq, int n) = 0;
  // Appends every item's tokens and returns the logits of each item's last token
  // [items][vocab], held by the runner until its next forward call. Throws
  // std::invalid_argument (changing nothing) for bad items.
  virtual std::span<const float> forward(std::span<const RunnerItem> items) = 0;
};

}  // namespace envforge::model
