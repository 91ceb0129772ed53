#include "model/kv_cache.h"

#include <stdexcept>
#include <string>

#include "model/ops.h"

namespace envforge::model {

KvCache::KvCache(const ModelConfig& cfg, int page_size)
    : kv_width_(cfg.kv_lora_rank + cfg.qk_rope_head_dim),
      index_dim_(cfg.index_head_dim),
      index_blocks_(cfg.index_head_dim / fp8_block(cfg.index_head_dim)),
      layers_(cfg.num_hidden_layers),
      page_size_(page_size) {
  if (page_size <= 0)
    throw std::invalid_argument("KvCache: page size must be positive, got " + std::to_string(page_size));
}

std::shared_ptr<KvPage> KvCache::new_page() const {
  auto p = std::make_shared<KvPage>();
  const size_t rows = static_cast<size_t>(layers_) * page_size_;
  p->kv.resize(rows * kv_width_);
  p->index_key.resize(rows * index_dim_);
  p->index_scale.resize(rows * index_blocks_);
  return p;
}

void KvCache::reserve_more(int n) {
  const int need_pages = (length_ + n + page_size_ - 1) / page_size_;
  // The partly written last page may be shared (adopted full pages never are partial, but a
  // copy keeps any sharer's rows intact whatever the caller did).
  const int first_written = length_ / page_size_;
  if (n > 0 && first_written < static_cast<int>(pages_.size()) &&
      pages_[first_written].use_count() > 1)
    pages_[first_written] = std::make_shared<KvPage>(*pages_[first_written]);
  while (static_cast<int>(pages_.size()) < need_pages) pages_.push_back(new_page());
}

void KvCache::clear() {
  length_ = 0;
  pages_.clear();
}

size_t KvCache::bytes() const {
  size_t b = 0;
  for (const auto& p : pages_)
    b += p->kv.size() * 4 + p->index_key.size() + p->index_scale.size() * 4;
  return b;
}

std::vector<std::shared_ptr<KvPage>> KvCache::share_pages(int n) const {
  if (n < 0 || static_cast<int64_t>(n) * page_size_ > length_)
    throw std::invalid_argument("KvCache::share_pages: " + std::to_string(n) +
                                " full pages asked, the cache holds " + std::to_string(length_) +
                                " tokens");
  return {pages_.begin(), pages_.begin() + n};
}

void KvCache::adopt_pages(std::vector<std::shared_ptr<KvPage>> pages) {
  if (length_ != 0 || !pages_.empty())
    throw std::invalid_argument("KvCache::adopt_pages: the cache is not empty");
  const size_t rows = static_cast<size_t>(layers_) * page_size_;
  for (const auto& p : pages)
    if (!p || p->kv.size() != rows * kv_width_ || p->index_key.size() != rows * index_dim_ ||
        p->index_scale.size() != rows * index_blocks_)
      throw std::invalid_argument("KvCache::adopt_pages: a page of another model or page size");
  length_ = static_cast<int>(pages.size()) * page_size_;
  pages_ = std::move(pages);
}

}  // namespace envforge::model
