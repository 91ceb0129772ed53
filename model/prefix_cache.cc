#include "model/prefix_cache.h"

#include <stdexcept>
#include <string>

namespace envforge::model {

struct PrefixCache::Node {
  Node* parent = nullptr;
  std::vector<int32_t> block;  // the page's tokens
  PageRef page;
  uint64_t last_used = 0;
  // Children by their block's tokens: exact matching, no hash collisions to worry about.
  std::map<std::vector<int32_t>, std::unique_ptr<Node>> children;
};

PrefixCache::PrefixCache(int page_size, size_t max_pages)
    : page_size_(page_size), max_pages_(max_pages), root_(std::make_unique<Node>()) {
  if (page_size <= 0)
    throw std::invalid_argument("PrefixCache: page size must be positive, got " + std::to_string(page_size));
}

// Leaves first, iteratively: a long prefix is a deep chain that recursive destruction of the
// nodes would follow on the stack.
PrefixCache::~PrefixCache() { clear(); }

PrefixCache::Node* PrefixCache::child(Node* parent, std::span<const int32_t> block) const {
  auto it = parent->children.find(std::vector<int32_t>(block.begin(), block.end()));
  return it == parent->children.end() ? nullptr : it->second.get();
}

void PrefixCache::touch(Node* n) {
  // A node is in leaves_ under its old tick exactly when it has no children.
  const bool leaf = n->children.empty();
  if (leaf) leaves_.erase(n->last_used);
  n->last_used = ++clock_;
  if (leaf) leaves_.emplace(n->last_used, n);
}

std::vector<PageRef> PrefixCache::match(std::span<const int32_t> tokens, size_t max_pages) {
  ++stats_.lookups;
  std::vector<PageRef> out;
  Node* at = root_.get();
  std::vector<Node*> path;
  while (out.size() < max_pages && (out.size() + 1) * page_size_ <= tokens.size()) {
    Node* next = child(at, tokens.subspan(out.size() * page_size_, page_size_));
    if (!next) break;
    out.push_back(next->page);
    path.push_back(next);
    at = next;
  }
  // Deepest last, so that a parent is never older than its child.
  for (Node* n : path) touch(n);
  if (!out.empty()) {
    ++stats_.hits;
    stats_.hit_tokens += static_cast<long>(out.size()) * page_size_;
  }
  return out;
}

void PrefixCache::insert(std::span<const int32_t> tokens, const std::vector<PageRef>& pages) {
  if (pages.size() * page_size_ > tokens.size())
    throw std::invalid_argument("PrefixCache::insert: " + std::to_string(pages.size()) +
                                " pages for " + std::to_string(tokens.size()) + " tokens");
  if (max_pages_ == 0) return;
  Node* at = root_.get();
  for (size_t i = 0; i < pages.size(); ++i) {
    const auto block = tokens.subspan(i * page_size_, page_size_);
    Node* next = child(at, block);
    if (!next) {
      if (stats_.pages >= max_pages_) {
        // The oldest leaf goes, unless it is the page this prefix continues from.
        if (leaves_.empty() || leaves_.begin()->second == at) return;
        remove_leaf(leaves_.begin()->second);
      }
      auto node = std::make_unique<Node>();
      node->parent = at;
      node->block.assign(block.begin(), block.end());
      node->page = pages[i];
      next = node.get();
      if (at != root_.get() && at->children.empty()) leaves_.erase(at->last_used);
      at->children.emplace(node->block, std::move(node));
      next->last_used = ++clock_;
      leaves_.emplace(next->last_used, next);
      ++stats_.pages;
      ++stats_.inserted_pages;
    } else {
      touch(next);
    }
    at = next;
  }
}

void PrefixCache::remove_leaf(Node* n) {
  leaves_.erase(n->last_used);
  Node* parent = n->parent;
  const std::vector<int32_t> key = n->block;  // n goes with the erase
  parent->children.erase(key);                // frees n and drops its page reference
  --stats_.pages;
  ++stats_.evicted_pages;
  if (parent != root_.get() && parent->children.empty()) leaves_.emplace(parent->last_used, parent);
}

size_t PrefixCache::evict(size_t n) {
  size_t gone = 0;
  while (gone < n && !leaves_.empty()) {
    remove_leaf(leaves_.begin()->second);
    ++gone;
  }
  return gone;
}

void PrefixCache::clear() { evict(stats_.pages); }

}  // namespace envforge::model
