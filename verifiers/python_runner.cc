#include "verifiers/python_runner.h"

#include <atomic>
#include <stdexcept>

#include "verifiers/harness_py.h"

namespace envforge::verifiers {
namespace {

namespace sb = envforge::sandbox;

constexpr const char* kHarnessName = ".envforge_harness.py";
constexpr std::int64_t kStartupAllowanceMs = 2000;  // interpreter start in a one-shot box
constexpr std::size_t kStdoutOverhead = 256 << 10;  // framing + captured prints

sb::Spec make_spec(const PythonOptions& o, bool isolate) {
  sb::Spec spec;
  spec.argv = {"/usr/bin/python3", "-s", "-B", std::string("/work/") + kHarnessName};
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1",
              "PYTHONHASHSEED=0", "PYTHONIOENCODING=utf-8",
              std::string("ENVFORGE_ISOLATE=") + (isolate ? "1" : "0"),
              "ENVFORGE_MAX_RESULT=" + std::to_string(o.max_result_bytes)};
  spec.files.push_back({kHarnessName, kHarnessPy, 0444});
  for (const auto& f : o.files) {
    if (f.name == kHarnessName) throw std::invalid_argument(std::string("file name '") + kHarnessName + "' is reserved");
    spec.files.push_back({f.name, f.bytes, 0644});
  }
  if (o.world_db) {
    spec.ro_binds.push_back({*o.world_db, std::string(kWorldDbPath)});
    spec.env.push_back("ENVFORGE_WORLD_DB=" + std::string(kWorldDbPath));
  }
  spec.limits = o.limits;
  spec.limits.stdout_bytes = std::max(spec.limits.stdout_bytes, o.max_result_bytes + kStdoutOverhead);
  spec.network = o.network;
  return spec;
}

std::string_view error_type_for(sb::Verdict v) {
  switch (v) {
    case sb::Verdict::kTimeLimit: return error_type::kTimeout;
    case sb::Verdict::kMemoryLimit: return error_type::kMemoryLimit;
    case sb::Verdict::kOutputLimit: return error_type::kOutputLimit;
    case sb::Verdict::kKilledByPolicy: return error_type::kPolicy;
    case sb::Verdict::kSandboxError: return error_type::kSandboxError;
    default: return error_type::kCrash;
  }
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

PythonResult error_result(std::string_view type, std::string message) {
  PythonResult r;
  r.error_type = type;
  r.message = std::move(message);
  return r;
}

// Builds the request line; empty + `error` set when the arguments cannot be sent.
std::string make_request(std::uint64_t id, std::string_view module, std::string_view function,
                         const nlohmann::json& args, PythonResult& error) {
  if (!args.is_object()) {
    error = error_result(error_type::kBadRequest, "args must be a JSON object, got " + std::string(args.type_name()));
    return {};
  }
  try {
    // The id goes first: the harness answers even a line it cannot parse by the id it starts with.
    return "{\"id\":" + std::to_string(id) + ",\"module\":" + nlohmann::json(module).dump() +
           ",\"function\":" + nlohmann::json(function).dump() + ",\"args\":" + args.dump() + "}";
  } catch (const nlohmann::json::exception& e) {
    error = error_result(error_type::kBadRequest, std::string("args cannot be encoded: ") + e.what());
    return {};
  }
}

// Interprets one harness response line.
PythonResult parse_response(const std::string& line, std::uint64_t id) {
  nlohmann::json resp;
  try {
    resp = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    return error_result(error_type::kCrash, "the harness answered with something that is not JSON: " + line.substr(0, 200));
  }
  if (!resp.is_object() || !resp.contains("ok") || !resp["ok"].is_boolean() || resp.value("id", nlohmann::json()) != id)
    return error_result(error_type::kCrash, "the harness answered out of protocol: " + line.substr(0, 200));
  PythonResult r;
  r.ok = resp["ok"].get<bool>();
  auto str = [&](const char* k) {
    auto it = resp.find(k);
    return it != resp.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (r.ok) {
    r.value = resp.value("value", nlohmann::json());
  } else {
    r.error_type = str("error_type");
    if (r.error_type.empty()) r.error_type = error_type::kCrash;
    r.message = str("message");
    r.traceback = str("traceback");
  }
  r.stdout_text = str("stdout");
  return r;
}

}  // namespace

sb::Limits PythonOptions::default_limits() {
  sb::Limits l;
  l.wall_ms = 3'600'000;  // sessions: calls have their own timeouts
  l.cpu_ms = 600'000;
  l.memory_mb = 512;
  l.max_pids = 32;
  l.tmpfs_mb = 64;
  l.stdout_bytes = 1 << 20;
  l.stderr_bytes = 256 << 10;
  return l;
}

class PythonSessionImpl {
 public:
  PythonSessionImpl(const PythonOptions& options, sb::Sandbox& sandbox) : options_(options) {
    session_ = sandbox.open_session(make_spec(options_, options_.isolate_calls));
    // The interpreter must answer before the session is handed out: a missing
    // python3 or a broken box is an error now, not at the first call.
    auto reply = session_->call(R"({"id":0,"op":"ping"})", std::chrono::seconds(30));
    if (!reply.ok || reply.line.find("pong") == std::string::npos)
      throw std::runtime_error("python session did not start: " + reply.error + " " + tail(reply.stderr_tail, 2000));
  }

  PythonResult call(std::string_view module, std::string_view function, const nlohmann::json& args,
                    std::chrono::milliseconds timeout) {
    const std::uint64_t id = ++next_id_;
    PythonResult result;
    std::string req = make_request(id, module, function, args, result);
    if (req.empty()) return result;
    sb::SessionReply reply = session_->call(req, timeout);
    if (!reply.ok) {
      result = error_result(error_type_for(reply.verdict), reply.error);
      if (!reply.stderr_tail.empty()) result.traceback = tail(reply.stderr_tail, 8192);
    } else {
      result = parse_response(reply.line, id);
    }
    result.wall_ms = reply.wall_ms;
    return result;
  }

  int restarts() const { return session_->restarts(); }

 private:
  PythonOptions options_;
  std::unique_ptr<sb::Session> session_;
  std::uint64_t next_id_ = 0;
};

PythonSession::PythonSession(PythonOptions options, sb::Sandbox& sandbox)
    : impl_(std::make_unique<PythonSessionImpl>(options, sandbox)) {}
PythonSession::~PythonSession() = default;

PythonResult PythonSession::call(std::string_view module, std::string_view function, const nlohmann::json& args,
                                 std::chrono::milliseconds timeout) {
  return impl_->call(module, function, args, timeout);
}

int PythonSession::restarts() const { return impl_->restarts(); }

PythonResult run_python_once(const PythonOptions& options, std::string_view module, std::string_view function,
                             const nlohmann::json& args, std::chrono::milliseconds timeout, sb::Sandbox& sandbox) {
  PythonResult result;
  std::string req = make_request(1, module, function, args, result);
  if (req.empty()) return result;
  sb::Spec spec;
  try {
    // A fresh box per call already isolates it; no fork inside.
    spec = make_spec(options, false);
  } catch (const std::exception& e) {
    return error_result(error_type::kBadRequest, e.what());
  }
  spec.limits.wall_ms = timeout.count() + kStartupAllowanceMs;
  spec.stdin_data = req + "\n";
  sb::Result run = sandbox.run(spec);
  auto nl = run.stdout_data.find('\n');
  if (nl != std::string::npos && run.verdict != sb::Verdict::kOutputLimit) {
    result = parse_response(run.stdout_data.substr(0, nl), 1);
  } else if (run.verdict == sb::Verdict::kOk || run.verdict == sb::Verdict::kRuntimeError) {
    result = error_result(error_type::kCrash, "the interpreter ended without answering: " + run.message);
    result.traceback = tail(run.stderr_data, 8192);
  } else {
    result = error_result(error_type_for(run.verdict), run.message);
    result.traceback = tail(run.stderr_data, 8192);
  }
  result.wall_ms = run.wall_ms;
  return result;
}

}  // namespace envforge::verifiers
