// Several agents on one embedded backend: their calls share the engine's batch and prefix
// cache and each gets what it gets alone.
#include <gtest/gtest.h>

#include <thread>

#include "agents/embedded_backend.h"
#include "model/batch_engine.h"

namespace envforge::agents {
namespace {

const std::string kTinyCkpt = std::string(ENVFORGE_SOURCE_DIR) + "/model/checkpoints/tiny-moe-bf16";

ChatRequest agent_call(int agent) {
  ChatRequest r;
  // A long shared system prompt (the tiny tokenizer is byte-level: one token per byte).
  r.messages.push_back({"system", std::string(120, 's') + " You are agent number one of many.", "", {}, "", ""});
  r.messages.push_back({"user", "Task " + std::to_string(agent) + ": say something.", "", {}, "", ""});
  r.sampling.temperature = agent % 2 ? 0.0 : 0.9;
  r.sampling.seed = 11 + agent;
  r.sampling.max_tokens = 10;
  return r;
}

TEST(EmbeddedConcurrency, ConcurrentAgentsShareTheEngineAndGetWhatTheyGetAlone) {
  EmbeddedOptions alone_opt{kTinyCkpt};
  alone_opt.device = "cpu";
  alone_opt.prefix_cache_pages = 0;
  EmbeddedBackend alone(alone_opt);
  EXPECT_EQ(alone.device(), "cpu");
  std::vector<ChatResponse> want;
  for (int a = 0; a < 6; ++a) want.push_back(alone.chat(agent_call(a)));

  EmbeddedOptions shared_opt{kTinyCkpt};
  shared_opt.device = "cpu";
  EmbeddedBackend shared(shared_opt);
  const ChatResponse first = shared.chat(agent_call(0));  // leaves the system prompt cached
  EXPECT_EQ(first.message.content, want[0].message.content);
  std::vector<ChatResponse> got(6);
  std::vector<std::thread> agents;
  for (int a = 0; a < 6; ++a) agents.emplace_back([&, a] { got[a] = shared.chat(agent_call(a)); });
  for (auto& t : agents) t.join();
  for (int a = 0; a < 6; ++a) {
    EXPECT_EQ(got[a].message.content, want[a].message.content) << a;
    EXPECT_EQ(got[a].message.reasoning, want[a].message.reasoning) << a;
    EXPECT_EQ(got[a].usage.completion_tokens, want[a].usage.completion_tokens) << a;
    EXPECT_EQ(got[a].finish_reason, want[a].finish_reason) << a;
  }
  const auto stats = shared.engine().stats();
  EXPECT_GE(stats.prefix.hits, 6);
  EXPECT_GE(stats.prefix.hit_tokens, 6 * 112);  // the system prompt's full pages, each time
}

TEST(EmbeddedConcurrency, UnknownDeviceIsAConfigError) {
  EmbeddedOptions o{kTinyCkpt};
  o.device = "tpu";
  EXPECT_THROW(EmbeddedBackend b(o), BackendError);
#if !defined(ENVFORGE_HAVE_CUDA)
  o.device = "gpu";
  EXPECT_THROW(EmbeddedBackend b(o), BackendError);
#endif
}

}  // namespace
}  // namespace envforge::agents
