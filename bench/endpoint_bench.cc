// Completion tokens per second through envforge endpoint (real HTTP on loopback, the agents'
// OpenAI client), C clients at once against the same requests one at a time in the same run:
// the ratio is what continuous batching buys behind the HTTP API. A third figure is the same
// requests made straight to the embedded backend one at a time (the HTTP layer's own cost).
//
//   endpoint_bench [--model DIR] [--clients C] [--requests R] [--max-tokens T]
// (best of three interleaved rounds of each)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "agents/embedded_backend.h"
#include "agents/openai_backend.h"
#include "model/batch_engine.h"
#include "server/openai_endpoint.h"

using namespace envforge;
using Clock = std::chrono::steady_clock;

namespace {

agents::ChatRequest request(int i, int max_tokens) {
  agents::ChatRequest r;
  model::ChatMessage sys, user;
  sys.role = "system";
  sys.content = "You are a helpful assistant for trip planning. Answer briefly.";
  user.role = "user";
  user.content = "Request " + std::to_string(i) + ": which city should I visit in spring?";
  r.messages = {sys, user};
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = 0.8;
  r.sampling.seed = i;
  return r;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::string(ENVFORGE_SOURCE_DIR) + "/model/checkpoints/tiny-moe-bf16";
  int clients = 16, requests = 64, max_tokens = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--clients")) clients = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--requests")) requests = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--max-tokens")) max_tokens = std::atoi(argv[i + 1]);
  }
  agents::EmbeddedOptions eo{dir};
  eo.max_sequences = std::max(clients, 1);
  agents::EmbeddedBackend backend(eo);
  server::EndpointOptions so;
  so.port = 0;
  so.limits.model_name = "bench";
  so.io_threads = 2;
  server::Endpoint endpoint(backend, so);
  std::thread server([&] { endpoint.run(); });
  agents::OpenAIOptions co;
  co.base_url = "http://127.0.0.1:" + std::to_string(endpoint.port()) + "/v1";
  co.model = "bench";
  co.max_concurrency = clients;
  co.retry.max_retries = 0;
  agents::OpenAIBackend client(co);

  auto run = [&](agents::Backend& b, int parallel) {
    std::atomic<int> next{0};
    std::atomic<long> tokens{0};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < parallel; ++c)
      threads.emplace_back([&] {
        for (int i; (i = next++) < requests;) tokens += b.chat(request(i, max_tokens)).usage.completion_tokens;
      });
    for (auto& t : threads) t.join();
    const double s = seconds_since(start);
    return std::pair{tokens.load() / s, s};
  };
  run(client, 1);  // warm-up (prefix cache, first connections)
  // Best of three rounds, the three ways interleaved: the machine's load shifts over a run.
  std::pair<double, double> direct{0, 0}, serial{0, 0}, batched{0, 0};
  auto best = [](std::pair<double, double>& b, std::pair<double, double> x) { if (x.first > b.first) b = x; };
  for (int round = 0; round < 3; ++round) {
    best(direct, run(backend, 1));
    best(serial, run(client, 1));
    best(batched, run(client, clients));
  }
  const auto [direct_tps, direct_s] = direct;
  const auto [serial_tps, serial_s] = serial;
  const auto [batched_tps, batched_s] = batched;
  const auto stats = backend.engine().stats();
  std::printf("endpoint_bench: %s on %s, %d requests of %d tokens\n", dir.c_str(), backend.device().c_str(), requests,
              max_tokens);
  std::printf("  embedded backend, one at a time : %8.1f tokens/s (%.2f s)\n", direct_tps, direct_s);
  std::printf("  endpoint, one client            : %8.1f tokens/s (%.2f s)\n", serial_tps, serial_s);
  std::printf("  endpoint, %3d clients at once   : %8.1f tokens/s (%.2f s), engine max batch %d\n", clients,
              batched_tps, batched_s, stats.max_batch);
  std::printf("  ratio concurrent / one client   : %.2fx; one client / embedded direct: %.2fx\n",
              batched_tps / serial_tps, serial_tps / direct_tps);
  endpoint.stop();
  server.join();
  return 0;
}
