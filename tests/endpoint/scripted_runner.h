// A runner whose logits make one token sequence (a script) the only likely next token: the
// model "writes" a chosen completion, so that the endpoint's tool-call and reasoning paths run
// end to end (engine, sampler, tokenizer, parser, HTTP) with a checkpoint's config and
// tokenizer, without the noise a tiny random model writes and without its forward pass (a
// script needs none). The script resumes from however much of it a sequence already ends
// with; after the script comes the end-of-sentence token. The prefix cache must be off (no
// pages are kept).
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "model/sequence_runner.h"

namespace envforge::testing {

class ScriptedRunner : public model::SequenceRunner {
 public:
  ScriptedRunner(std::unique_ptr<model::SequenceRunner> inner, std::vector<int32_t> script, int32_t eos)
      : inner_(std::move(inner)), script_(std::move(script)), eos_(eos) {}

  const model::ModelConfig& config() const override { return inner_->config(); }
  std::string name() const override { return inner_->name(); }
  int max_sequences() const override { return inner_->max_sequences(); }
  int max_context() const override { return inner_->max_context(); }
  int page_size() const override { return inner_->page_size(); }
  int max_step_tokens() const override { return inner_->max_step_tokens(); }
  long free_pages() const override { return inner_->free_pages(); }
  int new_sequence(const std::vector<model::PageRef>& prefix) override {
    if (!prefix.empty()) throw std::invalid_argument("ScriptedRunner keeps no pages: turn the prefix cache off");
    if (static_cast<int>(history_.size()) >= max_sequences()) throw std::runtime_error("ScriptedRunner: all sequences in use");
    const int seq = next_seq_++;
    history_[seq].clear();
    return seq;
  }
  void release_sequence(int seq) override { history_.erase(seq); }
  int length(int seq) const override { return static_cast<int>(history_.at(seq).size()); }
  std::vector<model::PageRef> pages(int, int) override { return {}; }

  std::span<const float> forward(std::span<const model::RunnerItem> items) override {
    const int vocab = config().vocab_size;
    logits_.assign(items.size() * static_cast<std::size_t>(vocab), 0.f);
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::vector<int32_t>& h = history_[items[i].seq];
      h.insert(h.end(), items[i].tokens.begin(), items[i].tokens.end());
      logits_[i * static_cast<std::size_t>(vocab) + next_token(h)] = 100.f;
    }
    return logits_;
  }

 private:
  // The script token after the longest script prefix the history ends with.
  int32_t next_token(const std::vector<int32_t>& h) const {
    for (std::size_t k = std::min(script_.size(), h.size()); k > 0; --k)
      if (std::equal(script_.begin(), script_.begin() + static_cast<long>(k), h.end() - static_cast<long>(k)))
        return k < script_.size() ? script_[k] : eos_;
    return script_.empty() ? eos_ : script_[0];
  }

  std::unique_ptr<model::SequenceRunner> inner_;
  std::vector<int32_t> script_;
  int32_t eos_;
  std::map<int, std::vector<int32_t>> history_;
  std::vector<float> logits_;  // of the last forward
  int next_seq_ = 0;
};

}  // namespace envforge::testing
