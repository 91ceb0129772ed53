#include "generators/authored/workspace_tools.h"

#include <stdexcept>

#include "generators/authored/text_util.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A mistake of the model's: told back to it as a tool error.
struct ToolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The sandbox itself failed: the run cannot go on.
struct EnvironmentFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One SQL statement over /work/world.db; the result goes to stdout as JSON.
constexpr const char* kQueryProgram = R"PY(
import json, sqlite3, sys
sql = open("/work/.envforge/query.sql", encoding="utf-8").read()
max_rows = int(sys.argv[1])
def cell(v):
    if isinstance(v, bytes):
        return "<blob of %d bytes>" % len(v)
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    if isinstance(v, str) and len(v) > 2000:
        return v[:2000] + "...(%d more characters)" % (len(v) - 2000)
    return v
try:
    con = sqlite3.connect("file:/work/world.db?mode=rw", uri=True)
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description] if cur.description else []
    rows, truncated = [], False
    if cols:
        for row in cur:
            if len(rows) >= max_rows:
                truncated = True
                break
            rows.append([cell(v) for v in row])
    con.commit()
    print(json.dumps({"columns": cols, "rows": rows, "truncated": truncated, "changes": con.total_changes}))
except (sqlite3.Error, sqlite3.Warning, ValueError) as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
)PY";

const std::string& string_arg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end()) throw ToolError(std::string("missing required argument \"") + name + "\"");
  if (!it->is_string())
    throw ToolError(std::string("argument \"") + name + "\": expected a string, got " + it->type_name());
  return it->get_ref<const std::string&>();
}

json function_schema(const char* name, const char* description, json parameters) {
  return {{"type", "function"},
          {"function", {{"name", name}, {"description", description}, {"parameters", std::move(parameters)}}}};
}

json object_params(json properties, json required) {
  return {{"type", "object"},
          {"properties", std::move(properties)},
          {"required", std::move(required)},
          {"additionalProperties", false}};
}

}  // namespace

WorkspaceTools::WorkspaceTools(Workspace& workspace, SubmitCheck check, WorkspaceToolOptions options,
                               sandbox::Sandbox& sandbox)
    : workspace_(workspace), check_(std::move(check)), options_(options), sandbox_(sandbox) {}

std::vector<model::ToolSchema> WorkspaceTools::schemas(const json& submit_parameters) {
  return {
      function_schema("run_python",
                      "Run Python 3 code in a fresh sandbox whose working directory /work holds the workspace "
                      "files. Files the code writes under /work are kept; no network.",
                      object_params({{"code", {{"type", "string"}, {"description", "the program"}}}}, {"code"})),
      function_schema("run_bash", "Run a bash script in a fresh sandbox with the workspace in /work (as run_python).",
                      object_params({{"script", {{"type", "string"}}}}, {"script"})),
      function_schema("write_file", "Create or replace a workspace file (text).",
                      object_params({{"path", {{"type", "string"}, {"description", "relative, e.g. tools.py"}}},
                                     {"content", {{"type", "string"}}}},
                                    {"path", "content"})),
      function_schema("read_file", "Read a text file of the workspace.",
                      object_params({{"path", {{"type", "string"}}}}, {"path"})),
      function_schema("list_files", "List the workspace files with their sizes.", object_params(json::object(), json::array())),
      function_schema("query_db", "Run one SQL statement on the workspace's world.db and return its rows.",
                      object_params({{"sql", {{"type", "string"}}},
                                     {"max_rows", {{"type", "integer"}, {"description", "default 50"}}}},
                                    {"sql"})),
      function_schema(kSubmitTool,
                      "Submit the environment and task for validation. The workspace must hold world.db, "
                      "tools.py, tools.json and verify.py.",
                      submit_parameters),
  };
}

void WorkspaceTools::clear_submission() {
  submission_.reset();
  submitted_workspace_.reset();
}

agents::ToolOutcome WorkspaceTools::call(const std::string& name, const json& arguments,
                                         std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  agents::ToolOutcome out;
  try {
    if (!arguments.is_object())
      throw ToolError(std::string("arguments must be a JSON object, got ") + arguments.type_name());
    if (name == "run_python")
      out.value = run_code({"/usr/bin/python3", "/work/.envforge/main.py"}, "main.py", string_arg(arguments, "code"), timeout);
    else if (name == "run_bash")
      out.value = run_code({"/bin/bash", "/work/.envforge/main.sh"}, "main.sh", string_arg(arguments, "script"), timeout);
    else if (name == "write_file")
      out.value = write_file(arguments);
    else if (name == "read_file")
      out.value = read_file(arguments);
    else if (name == "list_files")
      out.value = list_files();
    else if (name == "query_db")
      out.value = query_db(arguments, timeout);
    else if (name == kSubmitTool)
      out.value = submit(arguments);
    else
      throw ToolError("no tool named \"" + name + "\"");
    out.ok = true;
  } catch (const ToolError& e) {
    out.error = e.what();
  } catch (const EnvironmentFailure& e) {
    out.error = e.what();
    out.fatal = true;
  } catch (const std::exception& e) {  // e.g. JSON the model sent that cannot be handled
    out.error = std::string("the tool could not handle its arguments: ") + e.what();
  }
  out.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return out;
}

BoxOutcome WorkspaceTools::run_box(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra,
                                   std::chrono::milliseconds timeout) {
  BoxLimits limits = options_.box;
  if (timeout.count() > 0 && timeout < limits.step) limits.step = timeout;
  BoxOutcome r = run_in_box(workspace_, argv, extra, limits, sandbox_);
  if (r.sandbox_failure) throw EnvironmentFailure(r.error);
  return r;
}

json WorkspaceTools::run_code(const std::vector<std::string>& argv, const std::string& file, const std::string& code,
                              std::chrono::milliseconds timeout) {
  if (code.size() > options_.max_code_chars)
    throw ToolError("the code has " + std::to_string(code.size()) + " characters, more than the limit of " +
                    std::to_string(options_.max_code_chars) + "; write it to a file in parts");
  BoxOutcome r = run_box(argv, {{file, code}}, timeout);
  json out = {{"stdout", r.stdout_text}, {"stderr", r.stderr_text}};
  if (!r.ran) {
    out["error"] = r.error;
    return out;
  }
  out["exit_code"] = r.exit_code;
  if (r.timed_out) out["timed_out"] = "the command ran past its time limit and was killed";
  // Files whose names the workspace cannot hold are left out, with a note.
  std::vector<std::string> notes = std::move(r.notes);
  for (auto it = r.files.begin(); it != r.files.end();) {
    if (auto bad = workspace_.check_path(it->first)) {
      notes.push_back(*bad + ": left out");
      it = r.files.erase(it);
    } else {
      ++it;
    }
  }
  json changed = json::array(), removed = json::array();
  for (const auto& [path, bytes] : r.files) {
    const std::string* before = workspace_.find(path);
    if (!before || *before != bytes) changed.push_back(path);
  }
  for (const auto& [path, _] : workspace_.files())
    if (!r.files.count(path)) removed.push_back(path);
  if (auto bad = workspace_.replace_all(std::move(r.files))) {
    out["error"] = *bad + "; the workspace is unchanged";
    return out;
  }
  if (!changed.empty()) out["changed_files"] = changed;
  if (!removed.empty()) out["removed_files"] = removed;
  if (!notes.empty()) out["notes"] = notes;
  return out;
}

json WorkspaceTools::query_db(const json& args, std::chrono::milliseconds timeout) {
  const std::string& sql = string_arg(args, "sql");
  int max_rows = 50;
  if (auto m = args.find("max_rows"); m != args.end()) {
    if (!m->is_number_integer() || m->get<long long>() < 1)
      throw ToolError("argument \"max_rows\": expected a positive integer, got " + m->dump());
    max_rows = static_cast<int>(std::min<long long>(m->get<long long>(), options_.max_query_rows));
  }
  if (sql.find_first_not_of(" \t\r\n;") == std::string::npos) throw ToolError("argument \"sql\" is empty");
  if (sql.size() > options_.max_code_chars) throw ToolError("argument \"sql\" is too long");
  if (!workspace_.find("world.db"))
    throw ToolError("the workspace has no world.db yet; create it first (e.g. with run_python and sqlite3)");
  BoxOutcome r = run_box({"/usr/bin/python3", "/work/.envforge/query.py", std::to_string(max_rows)},
                         {{"query.py", kQueryProgram}, {"query.sql", sql}}, timeout);
  if (!r.ran) throw ToolError("the query did not finish: " + r.error);
  json result = json::parse(r.stdout_text, nullptr, false);
  if (!result.is_object())
    throw ToolError("the query's result could not be read back (" + clip_text(r.stderr_text, 400) + ")");
  if (result.contains("error")) throw ToolError(result["error"].is_string() ? result["error"].get<std::string>() : "query failed");
  if (auto bad = workspace_.replace_all(std::move(r.files))) throw ToolError(*bad);
  return result;
}

json WorkspaceTools::read_file(const json& args) const {
  const std::string& path = string_arg(args, "path");
  if (auto bad = workspace_.check_path(path)) throw ToolError(*bad);
  const std::string* bytes = workspace_.find(path);
  if (!bytes) throw ToolError("no file \"" + path + "\" in the workspace; list_files shows what is there");
  if (!is_valid_utf8(*bytes) || bytes->find('\0') != std::string::npos)
    throw ToolError("\"" + path + "\" is binary (" + std::to_string(bytes->size()) +
                    " bytes); inspect it with run_python" + (path == "world.db" ? " or query_db" : ""));
  return clip_text(*bytes, options_.max_read_chars);
}

json WorkspaceTools::write_file(const json& args) {
  const std::string& path = string_arg(args, "path");
  const std::string& content = string_arg(args, "content");
  if (content.size() > options_.max_code_chars)
    throw ToolError("the content has " + std::to_string(content.size()) + " characters, more than the limit of " +
                    std::to_string(options_.max_code_chars));
  if (auto bad = workspace_.write(path, content)) throw ToolError(*bad);
  return json{{"written", path}, {"bytes", content.size()}};
}

json WorkspaceTools::list_files() const {
  json files = json::array();
  for (const auto& [path, bytes] : workspace_.files()) files.push_back({{"path", path}, {"bytes", bytes.size()}});
  return files;
}

json WorkspaceTools::submit(const json& args) {
  if (auto bad = check_(args, workspace_)) throw ToolError("submission refused: " + *bad);
  submission_ = args;
  submitted_workspace_ = workspace_;
  return "submission accepted; envforge validates it now. Reply with a one-line summary and no tool call.";
}

}  // namespace envforge::generators::authored
