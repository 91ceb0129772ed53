// Per-sequence cache: for every layer the compressed KV latent with its rope key (one row of
// kv_lora_rank + qk_rope_head_dim floats per token, the layout sparse attention reads) and the
// lightning indexer's keys, stored FP8 E4M3 with per-block scales as the reference does.
// Rows live in fixed-size pages (all layers of page_size tokens each); full pages can be
// shared by reference between sequences that start with the same tokens (the prefix cache).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/config.h"

namespace envforge::model {

// The rows of page_size consecutive tokens for every layer.
struct KvPage {
  std::vector<float> kv;           // [layers][page_size][kv_lora_rank + qk_rope_head_dim]
  std::vector<uint8_t> index_key;  // [layers][page_size][index_head_dim] E4M3 codes
  std::vector<float> index_scale;  // [layers][page_size][index_head_dim / block]
};

class KvCache {
 public:
  static constexpr int kDefaultPageSize = 16;

  explicit KvCache(const ModelConfig& cfg, int page_size = kDefaultPageSize);
  int length() const { return length_; }
  // Makes room for `n` more tokens (rows beyond length() are written by the forward pass).
  // A shared page that would be written is copied first.
  void reserve_more(int n);
  void commit(int n) { length_ += n; }  // the forward pass wrote n more rows
  void clear();

  float* kv_row(int layer, int pos) { return page_of(pos).kv.data() + kv_offset(layer, pos); }
  const float* kv_row(int layer, int pos) const {
    return page_of(pos).kv.data() + kv_offset(layer, pos);
  }
  uint8_t* index_key_row(int layer, int pos) {
    return page_of(pos).index_key.data() + key_offset(layer, pos);
  }
  const uint8_t* index_key_row(int layer, int pos) const {
    return page_of(pos).index_key.data() + key_offset(layer, pos);
  }
  float* index_scale_row(int layer, int pos) {
    return page_of(pos).index_scale.data() + scale_offset(layer, pos);
  }
  const float* index_scale_row(int layer, int pos) const {
    return page_of(pos).index_scale.data() + scale_offset(layer, pos);
  }

  int kv_width() const { return kv_width_; }
  int index_dim() const { return index_dim_; }
  int index_blocks() const { return index_blocks_; }
  int page_size() const { return page_size_; }
  size_t bytes() const;  // of the pages this cache references

  // The first n full pages, shared (length() must cover them).
  std::vector<std::shared_ptr<KvPage>> share_pages(int n) const;
  // Starts an empty cache with shared full pages: length() becomes pages * page_size.
  // Throws std::invalid_argument if the cache is not empty or a page has another shape.
  void adopt_pages(std::vector<std::shared_ptr<KvPage>> pages);

 private:
  KvPage& page_of(int pos) { return *pages_[pos / page_size_]; }
  const KvPage& page_of(int pos) const { return *pages_[pos / page_size_]; }
  size_t kv_offset(int layer, int pos) const {
    return (static_cast<size_t>(layer) * page_size_ + pos % page_size_) * kv_width_;
  }
  size_t key_offset(int layer, int pos) const {
    return (static_cast<size_t>(layer) * page_size_ + pos % page_size_) * index_dim_;
  }
  size_t scale_offset(int layer, int pos) const {
    return (static_cast<size_t>(layer) * page_size_ + pos % page_size_) * index_blocks_;
  }
  std::shared_ptr<KvPage> new_page() const;

  int length_ = 0;
  int kv_width_, index_dim_, index_blocks_, layers_, page_size_;
  std::vector<std::shared_ptr<KvPage>> pages_;
};

}  // namespace envforge::model
