// serve_bench: a load generator for `envforge serve`. It starts the server on a loopback port
// (over a corpus it synthesizes, or --corpus), then plays episodes over WebSocket from this
// process (Beast clients on one thread): each episode is reset -> 8 tool calls -> submit.
//
//   serve_bench [--corpus FILE] [--live 1024] [--episodes N] [--big 4096] [--burst 4096]
//               [--calls 8] [--think-ms 500,2000] [--server-arg ARG]... [--quick]
//
// The throughput phase is closed-loop (every episode sends its next call as soon as the last is
// answered), so its latency is queueing: by Little's law 1,024 busy episodes at R calls/s wait
// 1024/R s per call. The paced phase plays the same live episodes the way agents do, with a
// think time (the model's turn) between calls, and shows the latency one call really sees: at
// 500 ms, 1,024 episodes offer about what the closed loop sustains (a stress); at 2 s, about
// a quarter of it, closer to rollouts where a turn of the model takes seconds.
//
// Prints, per phase, tool calls/s, p50/p99 call latency, the server's peak RSS and errors by
// code; and a baseline measured in the same run: the same tool call as a one-off sandbox run
// per call (verifiers::run_python_once), so the ratio shows what warm shared sessions buy.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "verifiers/python_runner.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string corpus;
  int live = 1024;       // concurrent episodes of the throughput phase
  int episodes = 0;      // episodes of the throughput phase (0: 2 x live)
  int big = 4096;        // concurrent episodes of the memory phase
  int burst = 4096;      // resets sent at once
  int calls = 8;
  // The paced phases' pauses between an answer and the next call: 500 ms offers about the
  // closed loop's rate (a stress), 2 s is closer to a model's turn in RL rollouts.
  std::vector<int> think_ms = {500, 2000};
  std::vector<std::string> server_args;
};

// ------------------------------------------------------------------------------------------
// The server under test.
struct Server {
  pid_t pid = -1;
  uint16_t port = 0;

  Server(const std::string& corpus, const std::vector<std::string>& extra, const std::string& log) {
    int out[2];
    if (pipe(out) != 0) std::exit(1);
    pid = fork();
    if (pid == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      if (!std::freopen(log.c_str(), "w", stderr)) _exit(126);
      std::vector<std::string> a = {ENVFORGE_BIN, "serve", "--corpus", corpus, "--port", "0", "--log-level", "warn"};
      a.insert(a.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256] = {0};
    if (!std::fgets(line, sizeof line, f)) {
      std::fprintf(stderr, "serve_bench: the server did not start; see %s\n", log.c_str());
      std::exit(1);
    }
    const std::string s(line);
    port = static_cast<uint16_t>(std::stoi(s.substr(s.rfind(':') + 1)));
  }
  ~Server() {
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
  }
  // Peak and current resident memory of the server process (kB), from /proc.
  std::pair<long, long> rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    long hwm = 0, rss = 0;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) hwm = std::stol(line.substr(6));
      if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
    }
    return {hwm, rss};
  }
};

// CPU seconds (user + system) spent by `root` and every process below it: the server, its
// sandbox launchers and their Python interpreters. A process's waited-for children that ended
// count through its cutime/cstime, so nothing is counted twice. Per call, this is the cost of
// a call whatever else the machine runs (the wall rate is not, on a shared machine).
double tree_cpu_seconds(pid_t root) {
  std::map<pid_t, pid_t> parent;
  std::map<pid_t, double> cpu;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    std::vector<std::string> f;  // fields 3.. of proc(5)
    while (rest >> field && f.size() < 15) f.push_back(field);
    if (f.size() < 15) continue;
    const pid_t pid = std::stoi(name);
    parent[pid] = std::stoi(f[1]);
    cpu[pid] = (std::stod(f[11]) + std::stod(f[12]) + std::stod(f[13]) + std::stod(f[14])) / tick;
  }
  double total = 0;
  for (const auto& [pid, seconds] : cpu) {
    for (pid_t p = pid; p > 1; p = parent.count(p) ? parent[p] : 0)
      if (p == root) {
        total += seconds;
        break;
      }
  }
  return total;
}

json http_json(uint16_t port, http::verb verb, const std::string& target, const std::string& body = "") {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = body;
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(256 << 20);
  http::read(s, buf, p);
  return json::parse(p.get().body());
}

// ------------------------------------------------------------------------------------------
// Players.
struct Tally {
  std::vector<double> call_ms;
  std::map<std::string, long> errors;  // error code (or tool error type) -> count
  std::map<std::string, std::string> example;  // error code -> the first message seen
  long tool_calls = 0, tool_errors = 0, episodes = 0, resets_ok = 0, capacity = 0;
  double last_answer_s = 0;
};

struct Plan {
  std::vector<std::string> task_ids;
  std::string city;  // an argument the trip tools accept
  int calls = 8;
  int think_ms = 0;  // pause before each call (the first one spread over [0, think_ms))
};

json call_for(const Plan& plan, int i) {
  if (i == 0 || plan.city.empty()) return {{"type", "call_tool"}, {"tool_name", "list_cities"}, {"arguments", json::object()}};
  return {{"type", "call_tool"},
          {"tool_name", i % 2 ? "search_hotels" : "search_restaurants"},
          {"arguments", {{"city", plan.city}}}};
}

using Ws = websocket::stream<beast::tcp_stream>;

asio::awaitable<json> ask(Ws& ws, const json& msg) {
  const std::string text = msg.dump();
  co_await ws.async_write(asio::buffer(text), asio::use_awaitable);
  beast::flat_buffer buf;
  co_await ws.async_read(buf, asio::use_awaitable);
  co_return json::parse(beast::buffers_to_string(buf.data()));
}

asio::awaitable<void> connect_ws(Ws& ws, uint16_t port) {
  co_await beast::get_lowest_layer(ws).async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                                     asio::use_awaitable);
  co_await ws.async_handshake("127.0.0.1", "/ws", asio::use_awaitable);
  ws.text(true);
}

// Plays episodes one after another on one connection while `left` allows.
asio::awaitable<void> player(uint16_t port, const Plan& plan, std::atomic<long>& left, Tally& t, int id) {
  try {
    Ws ws(co_await asio::this_coro::executor);
    co_await connect_ws(ws, port);
    while (left.fetch_sub(1) > 0) {
      // Messages are built before co_await: GCC 12 miscompiles braced lists inside it.
      const json reset = {{"type", "reset"},
                          {"data", {{"task_id", plan.task_ids[static_cast<size_t>(id) % plan.task_ids.size()]},
                                    {"model", "serve_bench"}}}};
      json r = co_await ask(ws, reset);
      if (r["type"] != "observation") {
        ++t.errors[r["data"].value("code", std::string("?"))];
        continue;
      }
      for (int i = 0; i < plan.calls; ++i) {
        if (plan.think_ms > 0) {
          const int pause = i == 0 ? static_cast<int>((id * 7919L) % plan.think_ms) : plan.think_ms;
          asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(pause));
          co_await timer.async_wait(asio::use_awaitable);
        }
        const auto a = Clock::now();
        const json step = {{"type", "step"}, {"data", call_for(plan, i)}};
        r = co_await ask(ws, step);
        t.call_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
        ++t.tool_calls;
        if (r["type"] != "observation") {
          ++t.errors[r["data"].value("code", std::string("?"))];
        } else if (!r["data"]["observation"]["error"].is_null()) {
          ++t.tool_errors;
          const json& e = r["data"]["observation"]["error"];
          const std::string key = "tool:" + e.value("error_type", std::string("?"));
          if (++t.errors[key] == 1) t.example[key] = e.value("message", std::string());
        }
      }
      const json submit = {{"type", "step"}, {"data", {{"type", "submit"}, {"answer", "bench"}}}};
      r = co_await ask(ws, submit);
      if (r["type"] != "observation") ++t.errors[r["data"].value("code", std::string("?"))];
      ++t.episodes;
    }
    co_await ws.async_close(websocket::close_code::normal, asio::use_awaitable);
  } catch (const std::exception& e) {
    ++t.errors[std::string("client:") + e.what()];
  }
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void print_errors(const Tally& t) {
  if (t.errors.empty()) {
    std::printf("  errors: none\n");
    return;
  }
  for (const auto& [k, n] : t.errors) {
    std::printf("  errors: %-40s %ld\n", k.c_str(), n);
    if (t.example.count(k)) std::printf("          e.g. %.300s\n", t.example.at(k).c_str());
  }
}

// Phase: `live` connections play `episodes` episodes in all. Returns tool calls/s.
double throughput_phase(const char* name, const Server& srv, const Plan& plan, int live, long episodes) {
  asio::io_context ioc;
  std::atomic<long> left{episodes};
  Tally t;
  t.call_ms.reserve(static_cast<size_t>(episodes * plan.calls));
  long peak_live = 0;
  const double cpu0 = tree_cpu_seconds(srv.pid);
  const auto start = Clock::now();
  for (int i = 0; i < live; ++i) asio::co_spawn(ioc, player(srv.port, plan, left, t, i), asio::detached);
  ioc.run();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = tree_cpu_seconds(srv.pid) - cpu0;
  (void)peak_live;
  const auto [hwm, rss] = srv.rss_kb();
  const double rate = static_cast<double>(t.tool_calls) / s;
  std::printf("%s: %d live episodes, %ld episodes, %ld tool calls in %.1f s\n", name, live, t.episodes, t.tool_calls, s);
  std::printf("  tool calls/s %.0f   p50 %.1f ms   p99 %.1f ms   server peak RSS %.0f MiB (now %.0f MiB)\n", rate,
              pct(t.call_ms, 0.5), pct(t.call_ms, 0.99), hwm / 1024.0, rss / 1024.0);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  double load[1] = {0};
  getloadavg(load, 1);
  std::printf("  server CPU (with its sandboxes) %.0f us per tool call, %.0f%% of the %ld cores; load average %.1f\n",
              t.tool_calls ? cpu / static_cast<double>(t.tool_calls) * 1e6 : 0.0, 100.0 * cpu / s / cores, cores,
              load[0]);
  print_errors(t);
  return rate;
}

// A burst: `n` connections are opened first, then every reset is sent at once; reports when
// the last answer came and how many were observations or CAPACITY_REACHED. The episodes are
// then held open while the server's memory is read.
void burst_phase(const Server& srv, const Plan& plan, int n) {
  asio::io_context ioc;
  std::vector<std::unique_ptr<Ws>> conns;
  long connected = 0, observations = 0, capacity = 0, other = 0;
  std::vector<double> answer_s;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<Ws>(ioc));
    asio::co_spawn(ioc, [&, i]() -> asio::awaitable<void> {
      try {
        co_await connect_ws(*conns[static_cast<size_t>(i)], srv.port);
        ++connected;
      } catch (...) {
        ++other;
      }
    }, asio::detached);
  }
  ioc.run();
  ioc.restart();
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(ioc, [&, i]() -> asio::awaitable<void> {
      try {
        const json reset = {{"type", "reset"},
                            {"data", {{"task_id", plan.task_ids[static_cast<size_t>(i) % plan.task_ids.size()]}}}};
        json r = co_await ask(*conns[static_cast<size_t>(i)], reset);
        answer_s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
        if (r["type"] == "observation") ++observations;
        else if (r["data"].value("code", std::string()) == "CAPACITY_REACHED") ++capacity;
        else ++other;
      } catch (...) {
        ++other;
      }
    }, asio::detached);
  }
  ioc.run();
  const auto [hwm, rss] = srv.rss_kb();
  std::printf("burst: %d resets at once over %ld connections: %ld observations, %ld CAPACITY_REACHED, %ld other; "
              "last answer after %.2f s (p50 %.2f s)\n",
              n, connected, observations, capacity, other, pct(answer_s, 1.0), pct(answer_s, 0.5));
  std::printf("  server RSS with %ld live episodes: %.0f MiB (peak %.0f MiB)\n", observations, rss / 1024.0, hwm / 1024.0);
  ioc.restart();
  for (auto& c : conns)
    asio::co_spawn(ioc, [&c]() -> asio::awaitable<void> {
      try {
        co_await c->async_close(websocket::close_code::normal, asio::use_awaitable);
      } catch (...) {
      }
    }, asio::detached);
  ioc.run();
}

// The same tool call as a one-off sandbox run per call.
double baseline(const std::string& corpus, const std::string& env_id, const std::string& dir, int n) {
  auto c = envforge::data::Corpus::open(corpus, {.read_only = true});
  auto env = c.environment(env_id);
  const std::string world = dir + "/baseline-world.db";
  {
    std::ofstream out(world, std::ios::binary);
    out.write(env->world_db.data(), static_cast<std::streamsize>(env->world_db.size()));
  }
  envforge::verifiers::PythonOptions o;
  o.files = {{"tools.py", env->tools_code}};
  o.world_db = world;
  std::vector<double> ms;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto a = Clock::now();
    auto r = envforge::verifiers::run_python_once(o, "tools", "list_cities", json::object(), std::chrono::seconds(30));
    if (!r.ok) std::fprintf(stderr, "baseline call failed: %s %s\n", r.error_type.c_str(), r.message.c_str());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  const double rate = n / std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("baseline: one-off sandbox run per call (run_python_once), %d calls in sequence: %.1f calls/s, "
              "p50 %.1f ms\n", n, rate, pct(ms, 0.5));
  std::filesystem::remove(world);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "serve_bench: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--corpus") a.corpus = next();
    else if (k == "--live") a.live = std::stoi(next());
    else if (k == "--episodes") a.episodes = std::stoi(next());
    else if (k == "--big") a.big = std::stoi(next());
    else if (k == "--burst") a.burst = std::stoi(next());
    else if (k == "--calls") a.calls = std::stoi(next());
    else if (k == "--think-ms") {
      a.think_ms.clear();
      std::istringstream list(next());
      for (std::string one; std::getline(list, one, ',');) a.think_ms.push_back(std::stoi(one));
    }
    else if (k == "--server-arg") a.server_args.push_back(next());
    else if (k == "--quick") quick = true;
    else {
      std::fprintf(stderr, "usage: serve_bench [--corpus F] [--live N] [--episodes N] [--big N] [--burst N] "
                           "[--calls N] [--think-ms MS[,MS...]] [--server-arg ARG]... [--quick]\n");
      return 2;
    }
  }
  if (quick) {
    a.live = 64;
    a.big = 256;
    a.burst = 256;
  }
  if (a.episodes == 0) a.episodes = 2 * a.live;
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  std::string dir = (std::filesystem::temp_directory_path() / "serve-bench-XXXXXX").string();
  dir = mkdtemp(dir.data());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::others_read |
                                        std::filesystem::perms::others_exec | std::filesystem::perms::group_read |
                                        std::filesystem::perms::group_exec);
  if (a.corpus.empty()) {
    a.corpus = dir + "/bench.db";
    const std::string cmd = std::string(ENVFORGE_BIN) + " synth --count 2 --out " + a.corpus + " >/dev/null 2>" + dir +
                            "/synth.log";
    std::printf("synthesizing a corpus of 2 trip environments...\n");
    std::fflush(stdout);
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "serve_bench: synth failed; see %s/synth.log\n", dir.c_str());
      return 1;
    }
  }
  std::vector<std::string> extra = {"--max-episodes", std::to_string(std::max(a.big, a.burst))};
  extra.insert(extra.end(), a.server_args.begin(), a.server_args.end());
  Server srv(a.corpus, extra, dir + "/serve.log");

  Plan plan;
  plan.calls = a.calls;
  json tasks = http_json(srv.port, http::verb::get, "/tasks?limit=1000");
  std::string env_id;
  for (const auto& t : tasks["tasks"]) {
    plan.task_ids.push_back(t["task_id"]);
    env_id = t["environment_id"];
  }
  if (plan.task_ids.empty()) {
    std::fprintf(stderr, "serve_bench: the corpus has no usable task\n");
    return 1;
  }
  // A city the search tools accept, from the world itself.
  {
    json r = http_json(srv.port, http::verb::post, "/step",
                       json{{"task_id", plan.task_ids[0]}, {"action", call_for(plan, 0)}}.dump());
    const json& res = r["observation"]["result"];
    if (res.is_array() && !res.empty()) {
      const json& c0 = res[0];
      plan.city = c0.is_string() ? c0.get<std::string>() : c0.value("name", c0.value("city", std::string()));
    }
  }
  std::printf("server pid %d on port %u; %zu tasks; call mix: list_cities, search_hotels/search_restaurants(city=%s)\n",
              srv.pid, srv.port, plan.task_ids.size(), plan.city.c_str());

  // Warm the sandbox sessions so that start-up is not in the figures.
  throughput_phase("warm-up", srv, plan, 32, 64);
  const double rate = throughput_phase("throughput", srv, plan, a.live, a.episodes);
  Plan paced = plan;
  for (int think : a.think_ms) {
    if (think <= 0) continue;
    paced.think_ms = think;
    const std::string name = "paced, " + std::to_string(think) + " ms think time";
    throughput_phase(name.c_str(), srv, paced, a.live, a.live);
  }
  throughput_phase("memory", srv, plan, a.big, a.big);
  burst_phase(srv, plan, a.burst);
  const double base = baseline(a.corpus, env_id, dir, quick ? 10 : 40);
  std::printf("ratio: served tool calls/s at %d live episodes / one-off sandbox calls/s = %.1fx\n", a.live, rate / base);
  json stats = http_json(srv.port, http::verb::get, "/stats");
  std::printf("server stats: %s\n", stats.dump().c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
