// Continuous batching: requests that arrive together or while others run, share steps with
// them and still produce exactly what each produces alone (greedy and seeded sampling).
#include "model/batch_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>
#include <stdexcept>
#include <thread>

#include "model/cpu_runner.h"
#include "tests/model/golden_util.h"

namespace envforge::model {
namespace {

std::vector<int32_t> engine_prompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % 256);
  return t;
}

GenerationRequest engine_request(std::vector<int32_t> prompt, int max_tokens, uint64_t seed = 0,
                                 float temperature = 0.f) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  return r;
}

std::unique_ptr<BatchEngine> cpu_engine(Model& m, EngineOptions o = {}, CpuRunnerOptions ro = {}) {
  return std::make_unique<BatchEngine>(std::make_unique<CpuRunner>(m, ro), std::move(o));
}

TEST(BatchEngine, ConcurrentRequestsGiveWhatEachGivesAlone) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));
  std::vector<GenerationRequest> reqs;
  // Lengths around index_topk (32) and the page size (16); some sampled with seeds.
  const int lens[] = {3, 17, 31, 33, 48, 70, 5, 90, 16, 41, 12, 64};
  for (int i = 0; i < 12; ++i)
    reqs.push_back(engine_request(engine_prompt(lens[i], 100 + i), 6 + i % 5, 7 + i,
                                  i % 3 == 2 ? 0.9f : 0.f));
  std::vector<GenerationResult> alone;
  for (const auto& r : reqs) alone.push_back(generate(*m, {r}).at(0));

  EngineOptions o;
  o.max_step_tokens = 40;  // forces prompts into chunks interleaved with decodes
  o.prefill_chunk = 13;
  o.prefix_cache_pages = 0;
  auto eng = cpu_engine(*m, o);
  std::vector<std::future<GenerationResult>> futures(reqs.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < reqs.size(); ++i)
    clients.emplace_back([&, i] { futures[i] = eng->submit(reqs[i]); });
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < reqs.size(); ++i) {
    GenerationResult got = futures[i].get();
    EXPECT_EQ(got.tokens, alone[i].tokens) << "request " << i;
    EXPECT_EQ(got.finish_reason, alone[i].finish_reason) << "request " << i;
  }
  const EngineStats s = eng->stats();
  EXPECT_EQ(s.finished, 12);
  EXPECT_GT(s.max_batch, 1);
  long prompt_tokens = 0;
  for (const auto& r : reqs) prompt_tokens += static_cast<long>(r.prompt.size());
  EXPECT_EQ(s.prefill_tokens, prompt_tokens);
}

TEST(BatchEngine, ARequestJoinsWhileAnotherDecodes) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-bf16"));
  const auto a = engine_request(engine_prompt(20, 1), 24);
  const auto b = engine_request(engine_prompt(50, 2), 10);
  const auto a_alone = generate(*m, {a}).at(0), b_alone = generate(*m, {b}).at(0);
  EngineOptions o;
  o.prefill_chunk = 8;
  auto eng = cpu_engine(*m, o);
  std::future<GenerationResult> fb;
  int seen = 0;
  // On a's third token (the scheduler thread), b arrives: it prefills in a's decode steps.
  auto fa = eng->submit(a, [&](int32_t, const TokenLogprob*) {
    if (++seen == 3) fb = eng->submit(b);
    return true;
  });
  const GenerationResult ra = fa.get();
  const GenerationResult rb = fb.get();
  EXPECT_EQ(ra.tokens, a_alone.tokens);
  EXPECT_EQ(rb.tokens, b_alone.tokens);
  EXPECT_GT(eng->stats().mixed_steps, 0);
}

TEST(BatchEngine, CancellingOneRequestLeavesTheOthersExact) {
  auto m = Model::load(testing::checkpoint_dir("tiny-dense-f32"));
  const auto keep = engine_request(engine_prompt(30, 3), 12);
  const auto keep_alone = generate(*m, {keep}).at(0);
  auto eng = cpu_engine(*m);
  int n = 0;
  auto cancelled = eng->submit(engine_request(engine_prompt(25, 4), 50), [&](int32_t, const TokenLogprob*) { return ++n < 4; });
  auto kept = eng->submit(keep);
  const auto rc = cancelled.get();
  EXPECT_EQ(rc.finish_reason, "cancelled");
  EXPECT_EQ(rc.tokens.size(), 4u);
  EXPECT_EQ(kept.get().tokens, keep_alone.tokens);
}

TEST(BatchEngine, MoreRequestsThanSequenceSlotsWaitTheirTurn) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-bf16"));
  CpuRunnerOptions ro;
  ro.max_sequences = 2;
  auto eng = cpu_engine(*m, {}, ro);
  std::vector<std::future<GenerationResult>> fs;
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    reqs.push_back(engine_request(engine_prompt(10 + i, 20 + i), 5));
    fs.push_back(eng->submit(reqs.back()));
  }
  for (int i = 0; i < 6; ++i) EXPECT_EQ(fs[i].get().tokens, generate(*m, {reqs[i]}).at(0).tokens);
  EXPECT_LE(eng->stats().max_batch, 2);
}

TEST(BatchEngine, RefusesBadRequestsAtOnce) {
  auto m = Model::load(testing::checkpoint_dir("tiny-dense-f32"));
  auto eng = cpu_engine(*m);
  EXPECT_THROW(eng->submit(engine_request({}, 3)), std::invalid_argument);
  EXPECT_THROW(eng->submit(engine_request({1, m->config().vocab_size}, 3)), std::invalid_argument);
  EXPECT_THROW(eng->submit(engine_request({1, -1}, 3)), std::invalid_argument);
  EXPECT_THROW(eng->submit(engine_request(std::vector<int32_t>(m->config().max_position_embeddings + 1, 1), 3)),
               std::invalid_argument);
  auto stop = engine_request({1, 2}, 3);
  stop.stop_strings = {"x"};
  EXPECT_THROW(eng->submit(stop), std::invalid_argument);  // no detokenizer
  auto bad_p = engine_request({1, 2}, 3);
  bad_p.sampling.top_p = 0.f;
  EXPECT_THROW(eng->submit(bad_p), std::invalid_argument);
  // The engine still serves.
  EXPECT_FALSE(eng->generate(engine_request({1, 2, 3}, 2)).finish_reason.empty());
}

TEST(BatchEngine, StopStringsAndMaxTokensAsGenerate) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-bf16"));
  auto detok = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t t : ids) s += t < 256 ? std::string(1, static_cast<char>(t)) : "<x>";
    return s;
  };
  auto r = engine_request(engine_prompt(12, 9), 20);
  GenerationOptions go;
  go.detokenize = detok;
  const auto free_run = generate(*m, {r}, go).at(0);
  ASSERT_GE(free_run.text.size(), 3u);
  r.stop_strings = {free_run.text.substr(1, 2)};
  const auto want = generate(*m, {r}, go).at(0);
  EngineOptions o;
  o.detokenize = detok;
  auto eng = cpu_engine(*m, o);
  const auto got = eng->generate(r);
  EXPECT_EQ(got.finish_reason, want.finish_reason);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_EQ(eng->generate(engine_request({4, 5}, 0)).finish_reason, "max_tokens");
}

TEST(BatchEngine, ShutdownFailsWhatIsStillRunning) {
  auto m = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));  // a 4096-token context
  std::future<GenerationResult> f;
  std::promise<void> started;
  {
    auto eng = cpu_engine(*m);
    bool once = false;
    f = eng->submit(engine_request({1, 2, 3}, 100000), [&](int32_t, const TokenLogprob*) {
      if (!once) started.set_value();
      once = true;
      return true;
    });
    started.get_future().wait();
  }
  EXPECT_THROW(f.get(), std::runtime_error);
}

TEST(BatchEngine, TheDoneHookRunsOnceTheResultOrTheErrorIsReady) {
  auto m = Model::load(testing::checkpoint_dir("tiny-dense-f32"));
  std::atomic<int> done{0};
  {
    auto eng = cpu_engine(*m);
    std::promise<void> hooked;
    auto f = eng->submit(engine_request(engine_prompt(10, 5), 6), {}, [&] {
      ++done;
      hooked.set_value();
    });
    hooked.get_future().wait();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);  // set before the hook
    EXPECT_EQ(f.get().tokens.size(), 6u);
    // A hook that throws does not take the engine down.
    auto g = eng->submit(engine_request(engine_prompt(10, 6), 3), {}, [] { throw std::runtime_error("hook"); });
    EXPECT_EQ(g.get().tokens.size(), 3u);
    EXPECT_EQ(eng->generate(engine_request(engine_prompt(10, 7), 2)).tokens.size(), 2u);
  }
  EXPECT_EQ(done.load(), 1);
  // Failures call it too: a request still running when the engine shuts down.
  auto big = Model::load(testing::checkpoint_dir("tiny-moe-fp8"));  // a 4096-token context
  std::atomic<int> failed_done{0};
  std::future<GenerationResult> f;
  {
    auto eng = cpu_engine(*big);
    std::promise<void> started;
    bool once = false;
    f = eng->submit(
        engine_request({1, 2, 3}, 100000),
        [&](int32_t, const TokenLogprob*) {
          if (!once) started.set_value();
          once = true;
          return true;
        },
        [&] { ++failed_done; });
    started.get_future().wait();
  }
  EXPECT_THROW(f.get(), std::runtime_error);
  EXPECT_EQ(failed_done.load(), 1);
}

}  // namespace
}  // namespace envforge::model
