// What the server tests share: a hand-built corpus whose environment has tools that write to
// their world, the real `envforge serve` as a child process on a loopback port, and small
// Beast clients (HTTP and WebSocket).
#pragma once

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "data/corpus.h"

namespace envforge::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

struct ServeTempDir {
  ServeTempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "envforge-serve-test-XXXXXX").string();
    path = mkdtemp(t.data());
    std::filesystem::permissions(path, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                           std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  }
  ~ServeTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

// Tools of the "notes" environment: they write to the world, to a scratch file in the working
// directory, and to a relative ATTACHed database; one lists the episode directories the box holds.
inline const char* kNotesTools = R"PY(
import os, sqlite3, time

def _db():
    return sqlite3.connect(os.environ["ENVFORGE_WORLD_DB"])

def add_note(text):
    c = _db()
    c.execute("INSERT INTO notes(text) VALUES (?)", (text,))
    c.commit()
    return {"added": text}

def list_notes():
    return [r[0] for r in _db().execute("SELECT text FROM notes ORDER BY rowid")]

def scratch_write(text):
    with open("scratch.txt", "a") as f:
        f.write(text + "\n")
    c = _db()
    c.execute("ATTACH DATABASE 'side.db' AS side")
    c.execute("CREATE TABLE IF NOT EXISTS side.t(x TEXT)")
    c.execute("INSERT INTO side.t VALUES (?)", (text,))
    c.commit()
    return True

def scratch_read():
    lines = open("scratch.txt").read().split() if os.path.exists("scratch.txt") else []
    c = _db()
    c.execute("ATTACH DATABASE 'side.db' AS side")
    c.execute("CREATE TABLE IF NOT EXISTS side.t(x TEXT)")
    return {"file": lines, "side": [r[0] for r in c.execute("SELECT x FROM side.t")]}

_cached = {}

def cached_count():
    # As generated tools do: one connection per world path, kept open between calls.
    path = os.environ["ENVFORGE_WORLD_DB"]
    if path not in _cached:
        _cached[path] = sqlite3.connect(path)
    return _cached[path].execute("SELECT count(*) FROM notes").fetchone()[0]

def open_files():
    return len(os.listdir("/proc/self/fd"))

def episode_dirs():
    return sorted(os.listdir("/tmp/episodes")) if os.path.isdir("/tmp/episodes") else []

def fail(message):
    raise ValueError(message)

def slow(seconds):
    time.sleep(seconds)
    return "slept"
)PY";

inline const char* kNotesVerify = R"PY(
import sqlite3

def verify(answer, world, task):
    notes = [r[0] for r in sqlite3.connect(world).execute("SELECT text FROM notes")]
    if task.get("check_notes"):
        ok = answer == ",".join(notes)
    else:
        ok = answer == task["expected"]
    return {"pass": ok, "score": 1.0 if ok else 0.25, "reason": "notes=%d" % len(notes)}
)PY";

inline json tool_schema(const std::string& name, json properties, std::vector<std::string> required) {
  return {{"type", "function"},
          {"function",
           {{"name", name},
            {"description", "test tool " + name},
            {"parameters", {{"type", "object"}, {"properties", std::move(properties)}, {"required", required}}}}}};
}

// The bytes of a world database made by `sql` (in a scratch file under `dir`, removed again).
inline std::string world_bytes(const std::string& dir, const std::string& sql) {
  const std::string path = dir + "/world-under-construction.db";
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove(path);
  return ss.str();
}

inline std::string notes_world_bytes(const std::string& dir) {
  return world_bytes(dir, "CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('seed');");
}

// Two tasks: "notes-fixed" expects the answer "42"; "notes-written" expects the episode's
// notes joined by commas (so the verifier must see the episode's own world).
inline void make_notes_corpus(const std::string& path, const std::string& scratch) {
  data::Corpus c = data::Corpus::open(path);
  data::WorkItem item;
  item.key = "notes-env";
  auto& e = item.environment;
  e.category = "notes";
  e.seed = 7;
  e.generator_name = "test";
  e.generator_version = "1";
  e.system_prompt = "You keep notes.";
  e.tools_code = kNotesTools;
  e.world_db = notes_world_bytes(scratch);
  const json text_prop = {{"text", {{"type", "string"}}}};
  e.tools = {{"add_note", tool_schema("add_note", text_prop, {"text"})},
             {"list_notes", tool_schema("list_notes", json::object(), {})},
             {"scratch_write", tool_schema("scratch_write", text_prop, {"text"})},
             {"scratch_read", tool_schema("scratch_read", json::object(), {})},
             {"episode_dirs", tool_schema("episode_dirs", json::object(), {})},
             {"cached_count", tool_schema("cached_count", json::object(), {})},
             {"open_files", tool_schema("open_files", json::object(), {})},
             {"fail", tool_schema("fail", {{"message", {{"type", "string"}}}}, {"message"})},
             {"slow", tool_schema("slow", {{"seconds", {{"type", "number"}}}}, {"seconds"})}};
  data::TaskRecord fixed;
  fixed.difficulty = 1;
  fixed.prompt = "Answer 42.";
  fixed.answer_schema = {{"type", "string"}};
  fixed.reference_solution = "42";
  fixed.verifier_code = kNotesVerify;
  fixed.metadata = {{"task", {{"expected", "42"}}}};
  data::TaskRecord written = fixed;
  written.difficulty = 2;
  written.prompt = "Add notes, then answer with all notes joined by commas.";
  written.reference_solution = "seed";
  written.metadata = {{"task", {{"check_notes", true}}}};
  item.tasks = {fixed, written};
  c.record_work_item(item);
}

// Task ids of the notes corpus, by difficulty (1: fixed answer, 2: answer from the world).
inline std::string notes_task_id(const std::string& corpus, int difficulty) {
  data::Corpus c = data::Corpus::open(corpus, {.read_only = true});
  std::string id;
  data::TaskFilter f;
  f.difficulty = difficulty;
  c.for_each_export_row(f, [&](const data::ExportRow& row) { id = row.task.id; });
  return id;
}

// `envforge serve` as a child process; its first stdout line names the port.
class ServerProcess {
 public:
  ServerProcess(const std::string& corpus, std::vector<std::string> extra = {},
                std::vector<std::string> env = {}, const std::string& log_path = "") {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      if (!log_path.empty()) {
        FILE* f = std::freopen(log_path.c_str(), "w", stderr);
        (void)f;
      }
      for (auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
      std::vector<std::string> args = {ENVFORGE_BIN, "serve", "--corpus", corpus, "--port", "0"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = fdopen(out[0], "r");
    char line[512] = {0};
    if (!std::fgets(line, sizeof line, out_)) {
      wait_exit();
      throw std::runtime_error("envforge serve exited before listening (status " + std::to_string(status_) + ")");
    }
    const std::string s(line);
    const auto colon = s.rfind(':');
    port_ = static_cast<uint16_t>(std::stoi(s.substr(colon + 1)));
  }
  ~ServerProcess() {
    if (pid_ > 0 && status_ < 0) {
      kill(pid_, SIGKILL);
      wait_exit();
    }
    if (out_) std::fclose(out_);
  }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  void signal(int sig) { kill(pid_, sig); }
  int wait_exit() {
    int st = 0;
    waitpid(pid_, &st, 0);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  FILE* out_ = nullptr;
  uint16_t port_ = 0;
};

struct HttpResult {
  int status = 0;
  json body;
  std::string raw;
};

inline HttpResult http_call(uint16_t port, http::verb verb, const std::string& target, const std::string& body = "",
                            const std::string& token = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  // A server may answer (413) and close before a huge body is all sent: the write then ends
  // in a broken pipe or a reset, and the answer is still read below.
  beast::error_code wec;
  http::write(stream, req, wec);
  if (wec && wec != asio::error::broken_pipe && wec != asio::error::connection_reset)
    throw beast::system_error(wec);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buf, parser);
  HttpResult r;
  r.status = static_cast<int>(parser.get().result_int());
  r.raw = parser.get().body();
  r.body = json::parse(r.raw, nullptr, false);
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return r;
}

inline HttpResult http_get(uint16_t port, const std::string& target, const std::string& token = "") {
  return http_call(port, http::verb::get, target, "", token);
}
inline HttpResult http_post(uint16_t port, const std::string& target, const json& body, const std::string& token = "") {
  return http_call(port, http::verb::post, target, body.dump(), token);
}

class WsClient {
 public:
  explicit WsClient(uint16_t port, const std::string& token = "") : ws_(ioc_) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    if (!token.empty())
      ws_.set_option(websocket::stream_base::decorator(
          [token](websocket::request_type& req) { req.set(http::field::authorization, "Bearer " + token); }));
    ws_.read_message_max(64 << 20);
    ws_.handshake("127.0.0.1", "/ws");
  }
  void send_text(const std::string& s) {
    ws_.text(true);
    ws_.write(asio::buffer(s));
  }
  void send_binary(const std::string& s) {
    ws_.binary(true);
    ws_.write(asio::buffer(s));
  }
  void send(const json& j) { send_text(j.dump()); }
  json recv() {
    beast::flat_buffer buf;
    ws_.read(buf);
    return json::parse(beast::buffers_to_string(buf.data()));
  }
  json request(const json& j) {
    send(j);
    return recv();
  }
  // Reads until the server closes; returns the close code (0 when the socket just ended).
  int read_until_closed() {
    for (;;) {
      beast::flat_buffer buf;
      beast::error_code ec;
      ws_.read(buf, ec);
      if (ec == websocket::error::closed) return static_cast<int>(ws_.reason().code);
      if (ec) return 0;
    }
  }
  void drop() {  // vanish without a close handshake
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }
  json reset(json data) { return request({{"type", "reset"}, {"data", std::move(data)}}); }
  json call(const std::string& tool, json args = json::object()) {
    return request({{"type", "step"}, {"data", {{"type", "call_tool"}, {"tool_name", tool}, {"arguments", std::move(args)}}}});
  }

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
};

// Polls `pred` every 50 ms for up to `seconds`.
template <class F>
bool eventually(F pred, double seconds = 30) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

}  // namespace envforge::testing
