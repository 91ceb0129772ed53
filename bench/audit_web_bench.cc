// audit_web_bench: server time of the audit web view's API on a large corpus.
//
// Fabricates a corpus of --tasks tasks (sample work items: 6 tasks per environment, a few
// validations and rollouts per task, pass rates spread over [0, 1]), starts the server
// in-process on loopback and times, over one keep-alive connection, the overview, filtered
// task pages (keyset paging, pass-rate band, text search), a task page and a world page,
// against GET /health measured in the same run.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "data/corpus.h"
#include "sandbox/sandbox.h"
#include "server/server.h"
#include "tests/data/sample_items.h"

namespace data = envforge::data;
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void fabricate(const std::string& path, int64_t tasks) {
  data::sample::Shape shape;
  shape.validations_per_task = 4;
  shape.rollouts_per_task = 4;
  shape.world_db_bytes = 512;
  const uint64_t items = static_cast<uint64_t>((tasks + shape.tasks_per_item - 1) / shape.tasks_per_item);
  data::Corpus c = data::Corpus::open(path);
  std::vector<data::WorkItem> batch;
  for (uint64_t i = 0; i < items; ++i) {
    data::WorkItem item = data::sample::make_work_item(i, shape);
    for (auto& t : item.tasks) {
      // 0 to 4 of the 4 rollouts pass, so the pass rates cover every band.
      const int passes = static_cast<int>((i * 7 + static_cast<uint64_t>(t.difficulty) * 3) % 5);
      for (auto& r : t.rollouts) {
        r.passed = r.attempt < passes;
        r.reward = r.passed ? 1 : 0;
      }
    }
    batch.push_back(std::move(item));
    if (batch.size() == 512) {
      c.record_work_items(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) c.record_work_items(batch);
}

class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // GET (or POST with a JSON body) on the kept-alive connection: status, body.
  std::pair<int, std::string> get(const std::string& target, const std::string& post_body = "") {
    http::request<http::string_body> req{post_body.empty() ? http::verb::get : http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    if (!post_body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = post_body;
    }
    req.prepare_payload();
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 << 20);
    http::read(stream_, buf_, parser);
    return {static_cast<int>(parser.get().result_int()), parser.get().body()};
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

struct Timing {
  double median_ms = 0;
  double server_ms = -1;  // the API's own server_ms, median, when it reports one
};

// `before`, when given, runs untimed before each request (e.g. a write that changes the corpus).
Timing time_get(Client& c, const std::string& target, int reps, const std::function<void()>& before = {}) {
  std::vector<double> wall, server;
  for (int i = 0; i < reps; ++i) {
    if (before) before();
    const auto t = Clock::now();
    auto [status, body] = c.get(target);
    wall.push_back(ms_since(t));
    if (status != 200) {
      std::fprintf(stderr, "audit_web_bench: %s -> %d %s\n", target.c_str(), status, body.substr(0, 300).c_str());
      std::exit(1);
    }
    const json j = json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("server_ms")) server.push_back(j["server_ms"].get<double>());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(server.begin(), server.end());
  return {wall[wall.size() / 2], server.empty() ? -1 : server[server.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("audit_web_bench", "Server time of the audit web view on a large corpus.");
  options.add_options()
      ("tasks", "tasks in the corpus", cxxopts::value<int64_t>()->default_value("100000"))
      ("corpus", "corpus file (made when missing; reused when present)",
       cxxopts::value<std::string>()->default_value("/tmp/audit_web_bench.db"))
      ("reps", "requests per figure (median)", cxxopts::value<int>()->default_value("7"))
      ("h,help", "print this help");
  const auto flags = options.parse(argc, argv);
  if (flags.count("help")) {
    std::printf("%s", options.help().c_str());
    return 0;
  }
  const std::string path = flags["corpus"].as<std::string>();
  const int64_t tasks = flags["tasks"].as<int64_t>();
  const int reps = std::max(1, flags["reps"].as<int>());
  spdlog::set_level(spdlog::level::warn);
  if (!std::filesystem::exists(path)) {
    const auto t = Clock::now();
    fabricate(path, tasks);
    std::printf("fabricated %s: %lld tasks in %.1f s\n", path.c_str(), static_cast<long long>(tasks),
                ms_since(t) / 1000);
  }
  {
    data::Corpus c = data::Corpus::open(path, {.read_only = true});
    std::printf("corpus %s: %lld tasks, %.0f MB\n", path.c_str(), static_cast<long long>(c.count_tasks()),
                static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  }
  envforge::sandbox::Sandbox::shared();
  envforge::server::ServeOptions o;
  o.corpus = path;
  o.port = 0;
  const auto t_start = Clock::now();
  envforge::server::Server srv(o);
  std::printf("server start (task index of the catalog): %.0f ms\n", ms_since(t_start));
  std::thread runner([&] { srv.run(); });
  {
    Client c(srv.port());
    const auto t_first = Clock::now();
    c.get("/audit/api/whoami");
    std::printf("first audit request (opens the store, aggregates every task's pass rate): %.0f ms\n\n",
                ms_since(t_first));
    // A task in the middle of the corpus, for the task and world pages.
    std::string id;
    {
      const json page = json::parse(c.get("/audit/api/tasks?after=" + std::to_string(tasks / 2) + "&limit=1").second);
      id = page["tasks"][0]["id"];
    }
    const Timing health = time_get(c, "/health", reps * 5);
    std::printf("%-62s %9s %9s %8s\n", "request (median of runs)", "wall ms", "server ms", "/health");
    auto row = [&](const char* name, const std::string& target, const std::function<void()>& before = {}) {
      const Timing t = time_get(c, target, reps, before);
      std::printf("%-62s %9.2f %9.2f %7.0fx\n", name, t.median_ms, t.server_ms, t.median_ms / health.median_ms);
    };
    std::printf("%-62s %9.3f %9s %7.0fx\n", "GET /health (baseline)", health.median_ms, "-", 1.0);
    row("overview, recomputed (a verdict was written before each)", "/audit/api/overview", [&] {
      c.get("/audit/api/task/" + id + "/verdict", R"({"verdict": "good", "note": "bench"})");
    });
    row("overview, kept (corpus unchanged since the last one)", "/audit/api/overview");
    row("tasks, first page, no filter", "/audit/api/tasks");
    row("tasks: category=trip level=3 status=usable pass=0.25-0.75", "/audit/api/tasks?category=trip&level=3&status=usable&pass=0.25-0.75");
    row("tasks: same filter, page after row 90000", "/audit/api/tasks?category=trip&level=3&status=usable&pass=0.25-0.75&after=90000");
    row("tasks: pass=1-1 (pass-rate band alone)", "/audit/api/tasks?pass=1-1");
    row("tasks: text search q=\"world 4242 \"", "/audit/api/tasks?q=world%204242%20");
    row("tasks: judged good (the bench's verdicts)", "/audit/api/tasks?audit=good");
    row("task page", "/audit/api/task/" + id);
  }
  srv.stop();
  runner.join();
  return 0;
}
