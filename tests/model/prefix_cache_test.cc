// The prefix cache: trie matching, reference counts and LRU eviction on stand-in pages, then
// logits of cache hits equal to recomputation bit for bit (full hits, partial hits, under
// eviction), on the CPU runner and through the batch engine.
#include "model/prefix_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "model/batch_engine.h"
#include "model/cpu_runner.h"
#include "tests/model/golden_util.h"

namespace envforge::model {
namespace {

struct TestPage : SharedPage {
  explicit TestPage(int i) : id(i) {}
  int id;
};

std::vector<PageRef> test_pages(int n, int first_id) {
  std::vector<PageRef> out;
  for (int i = 0; i < n; ++i) out.push_back(std::make_shared<TestPage>(first_id + i));
  return out;
}

int page_id(const PageRef& p) { return static_cast<const TestPage&>(*p).id; }

// A copy: the runner's own logits last only until its next forward.
std::vector<float> logits_of(SequenceRunner& runner, const RunnerItem& item) {
  const std::span<const float> l = runner.forward({&item, 1});
  return {l.begin(), l.end()};
}

std::vector<int32_t> counting(int n, int from = 0) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = from + i;
  return t;
}

TEST(PrefixCache, MatchesTheLongestCachedRunOfFullPages) {
  PrefixCache cache(4, 100);
  const auto a = counting(14);  // 3 full pages
  cache.insert(a, test_pages(3, 0));
  EXPECT_EQ(cache.stats().pages, 3u);
  EXPECT_EQ(cache.match(a, 10).size(), 3u);
  EXPECT_EQ(cache.match(a, 2).size(), 2u);  // capped by the caller
  auto b = a;
  b[9] = 999;  // diverges in the third page
  auto hit = cache.match(b, 10);
  ASSERT_EQ(hit.size(), 2u);
  EXPECT_EQ(page_id(hit[0]), 0);
  EXPECT_EQ(page_id(hit[1]), 1);
  EXPECT_TRUE(cache.match(counting(8, 1), 10).empty());
  EXPECT_TRUE(cache.match(counting(3), 10).empty());  // shorter than a page
  // A branch shares the first two pages.
  cache.insert(b, {hit[0], hit[1], std::make_shared<TestPage>(7)});
  EXPECT_EQ(cache.stats().pages, 4u);
  EXPECT_EQ(page_id(cache.match(b, 10).at(2)), 7);
  EXPECT_THROW(cache.insert(counting(3), test_pages(1, 50)), std::invalid_argument);
}

TEST(PrefixCache, HoldsPagesByReferenceAndEvictsLeastRecentlyUsedLeaves) {
  PrefixCache cache(2, 4);
  auto p = test_pages(2, 0);
  std::weak_ptr<const SharedPage> first = p[0];
  cache.insert(counting(4), p);
  p.clear();
  EXPECT_FALSE(first.expired());  // the cache holds it
  cache.insert(counting(4, 100), test_pages(2, 10));  // 4 pages: full
  cache.match(counting(4), 2);                          // the first chain is now the newer
  cache.insert(counting(2, 200), test_pages(1, 20));  // evicts the older chain's leaf
  EXPECT_EQ(cache.stats().pages, 4u);
  EXPECT_EQ(cache.stats().evicted_pages, 1);
  EXPECT_EQ(cache.match(counting(4, 100), 2).size(), 1u);  // its second page went
  EXPECT_EQ(cache.match(counting(4), 2).size(), 2u);
  EXPECT_EQ(cache.evict(10), 4u);
  EXPECT_TRUE(first.expired());
  EXPECT_TRUE(cache.match(counting(4), 2).empty());
  // A long chain goes without deep recursion.
  PrefixCache deep(1, 1 << 20);
  deep.insert(counting(50000), test_pages(50000, 0));
  EXPECT_EQ(deep.stats().pages, 50000u);
}

TEST(PrefixCache, HitLogitsEqualRecomputation) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));
  CpuRunner runner(*m);  // 16-token pages
  const int V = m->config().vocab_size;
  std::mt19937 rng(5);
  std::vector<int32_t> shared(45);
  for (auto& t : shared) t = static_cast<int32_t>(rng() % 256);
  auto with_tail = [&](std::vector<int32_t> tail) {
    auto t = shared;
    t.insert(t.end(), tail.begin(), tail.end());
    return t;
  };
  // The first request computes the shared part (in two chunks) and leaves 2 full pages.
  const int a = runner.new_sequence();
  const auto pa = with_tail({1, 2, 3});
  RunnerItem c1{a, std::span<const int32_t>(pa.data(), 20)};
  RunnerItem c2{a, std::span<const int32_t>(pa.data() + 20, pa.size() - 20)};
  runner.forward({&c1, 1});
  runner.forward({&c2, 1});
  const auto pages = runner.pages(a, 2);
  runner.release_sequence(a);  // the pages outlive it

  for (const auto& tail : {std::vector<int32_t>{9, 8, 7, 6}, std::vector<int32_t>{}}) {
    const auto pb = with_tail(tail);
    // Hit: start from the pages, compute the rest; then decode 3 tokens.
    const int hit = runner.new_sequence(pages);
    ASSERT_EQ(runner.length(hit), 32);
    const int fresh = runner.new_sequence();
    std::vector<float> lh, lf;
    RunnerItem ih{hit, std::span<const int32_t>(pb.data() + 32, pb.size() - 32)};
    RunnerItem ifr{fresh, pb};
    lh = logits_of(runner, ih);
    lf = logits_of(runner, ifr);
    for (int32_t next : {11, 12, 13}) {
      RunnerItem dh{hit, std::span<const int32_t>(&next, 1)}, df{fresh, std::span<const int32_t>(&next, 1)};
      const auto h = logits_of(runner, dh), f = logits_of(runner, df);
      lh.insert(lh.end(), h.begin(), h.end());
      lf.insert(lf.end(), f.begin(), f.end());
    }
    ASSERT_EQ(lh.size(), 4u * V);
    EXPECT_EQ(0, std::memcmp(lh.data(), lf.data(), lh.size() * sizeof(float))) << tail.size();
    runner.release_sequence(hit);
    runner.release_sequence(fresh);
  }
  // The shared pages were never written by the sequences that read them.
  const int again = runner.new_sequence(pages);
  const int fresh = runner.new_sequence();
  const int32_t t = 42;
  RunnerItem ia{again, std::span<const int32_t>(&t, 1)};
  RunnerItem ifr{fresh, std::span<const int32_t>(pa.data(), 32)};
  runner.forward({&ifr, 1});
  RunnerItem ifr2{fresh, std::span<const int32_t>(&t, 1)};
  const auto x = logits_of(runner, ia), y = logits_of(runner, ifr2);
  EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float)));
}

GenerationRequest attempt(std::vector<int32_t> prompt, int max_tokens, uint64_t seed) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.7f;
  r.sampling.seed = seed;
  return r;
}

TEST(PrefixCache, EngineAttemptsOfOneTaskReuseThePromptAndMatchRecomputation) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-bf16"));
  std::mt19937 rng(8);
  std::vector<int32_t> task(70);
  for (auto& t : task) t = static_cast<int32_t>(rng() % 256);
  std::vector<GenerationRequest> reqs;
  for (int k = 0; k < 5; ++k) reqs.push_back(attempt(task, 6, 30 + k));
  // A second turn of attempt 0: its prompt, its answer and a new message.
  EngineOptions o;
  BatchEngine eng(std::make_unique<CpuRunner>(*m), o);
  const auto first = eng.generate(reqs[0]);
  EXPECT_EQ(first.tokens, generate(*m, {reqs[0]}).at(0).tokens);
  for (int k = 1; k < 5; ++k)
    EXPECT_EQ(eng.generate(reqs[k]).tokens, generate(*m, {reqs[k]}).at(0).tokens) << k;
  auto turn2 = task;
  turn2.insert(turn2.end(), first.tokens.begin(), first.tokens.end());
  for (int32_t t : {5, 6, 7, 8, 9, 10, 11, 12, 13, 14}) turn2.push_back(t);
  const auto r2 = attempt(turn2, 6, 99);
  EXPECT_EQ(eng.generate(r2).tokens, generate(*m, {r2}).at(0).tokens);
  const auto s = eng.stats().prefix;
  EXPECT_EQ(s.hits, 5);              // attempts 1-4 and the second turn
  EXPECT_EQ(s.hit_tokens, 5 * 64);  // the task's 4 full pages, each time
  EXPECT_EQ(eng.stats().prefill_tokens, 70 + 4 * 6 + static_cast<long>(turn2.size()) - 64);
}

TEST(PrefixCache, AttemptsArrivingTogetherComputeTheirPromptOnce) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-bf16"));
  std::mt19937 rng(12);
  std::vector<int32_t> task(70);
  for (auto& t : task) t = static_cast<int32_t>(rng() % 256);
  BatchEngine eng(std::make_unique<CpuRunner>(*m));
  std::vector<GenerationRequest> reqs;
  std::vector<std::future<GenerationResult>> fs;
  for (int k = 0; k < 4; ++k) {
    reqs.push_back(attempt(task, 5, 50 + k));
    fs.push_back(eng.submit(reqs.back()));
  }
  auto other = attempt(std::vector<int32_t>(40, 3), 5, 9);  // shares nothing: runs at once
  auto fo = eng.submit(other);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(fs[k].get().tokens, generate(*m, {reqs[k]}).at(0).tokens) << k;
  EXPECT_EQ(fo.get().tokens, generate(*m, {other}).at(0).tokens);
  const auto s = eng.stats();
  EXPECT_EQ(s.prefix.hit_tokens, 3 * 64);
  EXPECT_EQ(s.prefill_tokens, 70 + 3 * 6 + 40);
}

TEST(PrefixCache, EngineUnderEvictionPressureStaysExact) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));
  EngineOptions o;
  o.prefix_cache_pages = 3;
  BatchEngine eng(std::make_unique<CpuRunner>(*m), o);
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> tasks(4);
  for (auto& t : tasks) {
    t.resize(40);
    for (auto& x : t) x = static_cast<int32_t>(rng() % 256);
  }
  std::vector<std::future<GenerationResult>> fs;
  std::vector<GenerationRequest> reqs;
  for (int round = 0; round < 3; ++round)
    for (size_t i = 0; i < tasks.size(); ++i) {
      reqs.push_back(attempt(tasks[i], 4, round * 10 + i));
      fs.push_back(eng.submit(reqs.back()));
    }
  for (size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(fs[i].get().tokens, generate(*m, {reqs[i]}).at(0).tokens) << i;
  const auto s = eng.stats().prefix;
  EXPECT_LE(s.pages, 3u);
  EXPECT_GT(s.evicted_pages, 0);
}

}  // namespace
}  // namespace envforge::model
