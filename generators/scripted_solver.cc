#include "generators/scripted_solver.h"

#include <fstream>
#include <sstream>

#include "agents/scripted_backend.h"

namespace envforge::generators {

using nlohmann::json;
using agents::BackendError;
using agents::BackendErrorKind;

namespace {

const char* const kRoots[] = {"reference", "task", "prompt", "difficulty", "attempt"};

bool known_root(const std::string& path) {
  const std::string root = path.substr(0, path.find('/'));
  for (const char* r : kRoots)
    if (root == r) return true;
  return false;
}

// The value at `path` ("reference/plan/0") in the context, or nullptr when there is none.
const json* lookup(const json& context, const std::string& path) {
  try {
    const json::json_pointer pointer("/" + path);
    return context.contains(pointer) ? &context.at(pointer) : nullptr;
  } catch (const json::exception&) {
    return nullptr;  // e.g. an array index that is not a number
  }
}

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

json fill_string(const std::string& s, const json& context, std::vector<std::string>& missing) {
  if (s.size() > 4 && s.rfind("{{", 0) == 0 && s.find("{{", 2) == std::string::npos &&
      s.compare(s.size() - 2, 2, "}}") == 0 && s.find("}}") == s.size() - 2) {
    const std::string path = s.substr(2, s.size() - 4);
    if (const json* v = lookup(context, path)) return *v;
    missing.push_back(path);
    return nullptr;
  }
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = s.find("{{", pos);
    const size_t close = open == std::string::npos ? open : s.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(s, pos, open - pos);
    const std::string path = s.substr(open + 2, close - open - 2);
    if (const json* v = lookup(context, path)) out += as_text(*v);
    else missing.push_back(path);
    pos = close + 2;
  }
  if (pos == 0) return s;
  out.append(s, pos);
  return out;
}

void collect_placeholders(const json& v, std::vector<std::string>& paths) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    for (size_t open = s.find("{{"); open != std::string::npos; open = s.find("{{", open + 2)) {
      const size_t close = s.find("}}", open + 2);
      if (close == std::string::npos) break;
      paths.push_back(s.substr(open + 2, close - open - 2));
    }
  } else if (v.is_structured()) {
    for (const auto& x : v) collect_placeholders(x, paths);
  }
}

// Every call fails with the same configuration error.
class FailingBackend : public agents::Backend {
 public:
  FailingBackend(std::string source, std::string message)
      : source_(std::move(source)), message_(std::move(message)) {}
  agents::ChatResponse chat(const agents::ChatRequest&, const agents::StreamCallback&) override {
    throw BackendError(BackendErrorKind::kConfig, message_);
  }
  std::string describe() const override { return "scripted:" + source_; }

 private:
  std::string source_, message_;
};

}  // namespace

json fill_placeholders(const json& value, const json& context, std::vector<std::string>& missing) {
  if (value.is_string()) return fill_string(value.get_ref<const std::string&>(), context, missing);
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[k] = fill_placeholders(v, context, missing);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& v : value) out.push_back(fill_placeholders(v, context, missing));
    return out;
  }
  return value;
}

ScriptedSolver ScriptedSolver::load(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return BackendError(BackendErrorKind::kConfig, "scripted solver \"" + path + "\": " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad("cannot open the file");
  std::stringstream text;
  text << in.rdbuf();
  json file;
  try {
    file = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw bad(std::string("not valid JSON (") + e.what() + ")");
  }
  ScriptedSolver solver;
  solver.path_ = path;
  if (file.is_object() && file.contains("attempts")) {
    const json& attempts = file["attempts"];
    if (!attempts.is_array() || attempts.empty()) throw bad("\"attempts\": expected a non-empty array of scripts");
    for (const auto& s : attempts) solver.scripts_.push_back(s);
  } else {
    solver.scripts_.push_back(file);
  }
  for (size_t i = 0; i < solver.scripts_.size(); ++i) {
    const std::string where = solver.scripts_.size() > 1 ? "attempts[" + std::to_string(i) + "]: " : "";
    std::vector<std::string> paths;
    collect_placeholders(solver.scripts_[i], paths);
    for (const auto& p : paths)
      if (!known_root(p))
        throw bad(where + "unknown placeholder {{" + p +
                  "}} (known: reference, task, prompt, difficulty, attempt, optionally followed by /path)");
    // The shape is checked with every placeholder empty; values come per task.
    std::vector<std::string> ignored;
    try {
      agents::ScriptedBackend check(fill_placeholders(solver.scripts_[i], json::object(), ignored), path);
    } catch (const BackendError& e) {
      throw bad(where + e.what());
    }
  }
  return solver;
}

std::unique_ptr<agents::Backend> ScriptedSolver::backend_for(const json& context, int attempt) const {
  const size_t i = static_cast<size_t>(attempt) % scripts_.size();
  json ctx = context;
  ctx["attempt"] = attempt;
  std::vector<std::string> missing;
  json script = fill_placeholders(scripts_[i], ctx, missing);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "{{" : ", {{") + m + "}}";
    return std::make_unique<FailingBackend>(
        path_, "scripted solver \"" + path_ + "\": " + list + " has no value for this task");
  }
  try {
    return std::make_unique<agents::ScriptedBackend>(script, path_);
  } catch (const BackendError& e) {
    // A value filled in made a reply malformed (e.g. a non-object where a message goes).
    return std::make_unique<FailingBackend>(path_, e.what());
  }
}

}  // namespace envforge::generators
