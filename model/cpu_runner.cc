#include "model/cpu_runner.h"

#include <stdexcept>
#include <string>

namespace envforge::model {

namespace {

// A CPU page as the runner-neutral reference the prefix cache keeps.
struct CpuPageRef : SharedPage {
  explicit CpuPageRef(std::shared_ptr<KvPage> p) : page(std::move(p)) {}
  std::shared_ptr<KvPage> page;
};

}  // namespace

CpuRunner::CpuRunner(Model& model, CpuRunnerOptions options)
    : model_(model), options_(options), seqs_(options.max_sequences > 0 ? options.max_sequences : 0) {
  if (options_.max_sequences <= 0 || options_.page_size <= 0 || options_.max_step_tokens <= 0)
    throw std::invalid_argument("CpuRunner: max_sequences, page_size and max_step_tokens must be positive");
}

int CpuRunner::new_sequence(const std::vector<PageRef>& prefix) {
  std::vector<std::shared_ptr<KvPage>> pages;
  for (const PageRef& r : prefix) {
    auto* cp = dynamic_cast<const CpuPageRef*>(r.get());
    if (!cp) throw std::invalid_argument("CpuRunner::new_sequence: a prefix page of another runner");
    pages.push_back(cp->page);
  }
  for (size_t i = 0; i < seqs_.size(); ++i)
    if (!seqs_[i]) {
      KvCache cache(model_.config(), options_.page_size);
      cache.adopt_pages(std::move(pages));
      seqs_[i].emplace(std::move(cache));
      return static_cast<int>(i);
    }
  throw std::runtime_error("CpuRunner: all " + std::to_string(seqs_.size()) + " sequences are in use");
}

KvCache& CpuRunner::live(int seq, const char* what) {
  if (seq < 0 || seq >= static_cast<int>(seqs_.size()) || !seqs_[seq])
    throw std::invalid_argument(std::string("CpuRunner::") + what + ": no live sequence " +
                                std::to_string(seq));
  return *seqs_[seq];
}

const KvCache& CpuRunner::live(int seq, const char* what) const {
  return const_cast<CpuRunner*>(this)->live(seq, what);
}

void CpuRunner::release_sequence(int seq) {
  live(seq, "release_sequence");
  seqs_[seq].reset();
}

int CpuRunner::length(int seq) const { return live(seq, "length").length(); }

std::vector<PageRef> CpuRunner::pages(int seq, int n) {
  std::vector<PageRef> out;
  for (auto& p : live(seq, "pages").share_pages(n)) out.push_back(std::make_shared<CpuPageRef>(p));
  return out;
}

std::span<const float> CpuRunner::forward(std::span<const RunnerItem> items) {
  std::vector<BatchItem> batch;
  for (const RunnerItem& it : items) batch.push_back({&live(it.seq, "forward"), it.tokens});
  ForwardOptions opt;
  opt.force_dense = options_.force_dense;
  logits_ = model_.forward(batch, opt);
  return logits_;
}

}  // namespace envforge::model
