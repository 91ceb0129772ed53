// Prefix cache: the cache pages of token prefixes already computed, so that a request that
// starts with a known prefix (system prompt, tools, task; K attempts of one task) skips
// recomputing it. A trie of full pages: a node is one page of page_size tokens under its
// parent's prefix, matched by exact tokens. Pages are reference-counted (a running sequence
// and the cache may hold the same page); the cache keeps at most max_pages of them and drops
// least recently used leaves beyond that or when the runner runs short of memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "model/sequence_runner.h"

namespace envforge::model {

struct PrefixCacheStats {
  long lookups = 0;
  long hits = 0;            // lookups that matched at least one page
  long hit_tokens = 0;      // tokens not recomputed thanks to the cache
  long inserted_pages = 0;
  long evicted_pages = 0;
  size_t pages = 0;         // held now
};

class PrefixCache {
 public:
  PrefixCache(int page_size, size_t max_pages);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // The pages of the longest cached prefix of `tokens`, at most max_pages of them; marks them
  // recently used.
  std::vector<PageRef> match(std::span<const int32_t> tokens, size_t max_pages);
  // Records the full pages of a sequence whose first tokens are `tokens`
  // (pages.size() * page_size <= tokens.size()); pages already cached are kept as they are.
  void insert(std::span<const int32_t> tokens, const std::vector<PageRef>& pages);
  // Drops up to n least recently used leaf pages; returns how many went.
  size_t evict(size_t n);
  void clear();

  int page_size() const { return page_size_; }
  size_t max_pages() const { return max_pages_; }
  const PrefixCacheStats& stats() const { return stats_; }

 private:
  struct Node;
  Node* child(Node* parent, std::span<const int32_t> block) const;
  void touch(Node* n);
  void remove_leaf(Node* n);

  int page_size_;
  size_t max_pages_;
  uint64_t clock_ = 0;
  std::unique_ptr<Node> root_;
  // Leaves by last use (eviction order); a node's key in it is its last_used tick.
  std::map<uint64_t, Node*> leaves_;
  PrefixCacheStats stats_;
};

}  // namespace envforge::model
