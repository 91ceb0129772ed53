#include "generators/authored/submission.h"

#include <set>
#include <stdexcept>

#include "agents/argument_check.h"
#include "generators/authored/text_util.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;

struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& field(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end()) throw Refused(std::string("missing \"") + name + "\"");
  return *it;
}

std::string text_field(const json& args, const char* name, std::size_t max_chars, bool required = true) {
  if (!required && !args.contains(name)) return {};
  const json& v = field(args, name);
  if (!v.is_string()) throw Refused(std::string("\"") + name + "\": expected a string, got " + v.type_name());
  const std::string& s = v.get_ref<const std::string&>();
  if (required && s.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Refused(std::string("\"") + name + "\" is empty");
  if (s.size() > max_chars)
    throw Refused(std::string("\"") + name + "\" has " + std::to_string(s.size()) + " characters, more than " +
                  std::to_string(max_chars));
  return s;
}

const std::string& workspace_file(const Workspace& ws, const char* path, const char* what) {
  const std::string* bytes = ws.find(path);
  if (!bytes) throw Refused(std::string("the workspace has no ") + path + " (" + what + ")");
  return *bytes;
}

std::string text_file(const Workspace& ws, const char* path, const char* what) {
  const std::string& bytes = workspace_file(ws, path, what);
  if (!is_valid_utf8(bytes)) throw Refused(std::string(path) + " is not UTF-8 text");
  if (bytes.find_first_not_of(" \t\r\n") == std::string::npos) throw Refused(std::string(path) + " is empty");
  return bytes;
}

bool python_name(const std::string& s) {
  if (s.empty() || s.size() > 64 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

json parse_tools_json(const std::string& text, const SubmissionRules& rules) {
  json tools = json::parse(text, nullptr, false);
  if (tools.is_discarded()) throw Refused("tools.json is not valid JSON");
  if (!tools.is_array() || tools.empty())
    throw Refused("tools.json must be a non-empty JSON array of OpenAI function schemas");
  if (tools.size() > rules.max_tools)
    throw Refused("tools.json has " + std::to_string(tools.size()) + " tools, more than " + std::to_string(rules.max_tools));
  std::set<std::string> names;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const std::string where = "tools.json[" + std::to_string(i) + "]";
    const json& t = tools[i];
    if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") || !t["function"].is_object())
      throw Refused(where + ": expected {\"type\": \"function\", \"function\": {...}}");
    const json& fn = t["function"];
    if (!fn.contains("name") || !fn["name"].is_string() || !python_name(fn["name"].get<std::string>()))
      throw Refused(where + ".function.name: expected a Python function name");
    const std::string name = fn["name"];
    if (name == "submit_answer" || name.rfind("__", 0) == 0)
      throw Refused(where + ": the name \"" + name + "\" is reserved");
    if (!names.insert(name).second) throw Refused(where + ": the tool \"" + name + "\" is defined twice");
    if (!fn.contains("description") || !fn["description"].is_string())
      throw Refused(where + ".function.description: expected a string");
    if (!fn.contains("parameters") || !fn["parameters"].is_object() || fn["parameters"].value("type", "") != "object")
      throw Refused(where + ".function.parameters: expected a JSON Schema of type \"object\"");
  }
  return tools;
}

const json* parameters_of(const json& tools, const std::string& name) {
  for (const auto& t : tools)
    if (t["function"]["name"] == name) return &t["function"]["parameters"];
  return nullptr;
}

Submission parse(const json& args, const Workspace& ws, const SubmissionRules& rules, const Submission* previous) {
  if (!args.is_object()) throw Refused(std::string("arguments must be an object, got ") + args.type_name());
  Submission s;
  s.prompt = text_field(args, "task_prompt", rules.max_prompt_chars);
  s.solver_system_prompt = text_field(args, "solver_system_prompt", rules.max_prompt_chars, false);

  s.answer_schema = field(args, "answer_schema");
  if (!s.answer_schema.is_object() || !s.answer_schema.contains("type"))
    throw Refused("\"answer_schema\": expected a JSON Schema object with a \"type\"");
  s.reference = field(args, "reference_solution");
  if (auto bad = agents::check_arguments(s.answer_schema, s.reference))
    throw Refused("\"reference_solution\" does not fit \"answer_schema\": " + *bad);
  if (args.contains("task_params")) {
    s.task_params = args["task_params"];
    if (!s.task_params.is_object()) throw Refused("\"task_params\": expected an object");
  }

  const json& wrong = field(args, "wrong_answers");
  if (!wrong.is_array()) throw Refused("\"wrong_answers\": expected an array");
  if (wrong.size() < rules.min_wrong_answers || wrong.size() > rules.max_wrong_answers)
    throw Refused("\"wrong_answers\": give between " + std::to_string(rules.min_wrong_answers) + " and " +
                  std::to_string(rules.max_wrong_answers) + " wrong answers, got " + std::to_string(wrong.size()));
  for (std::size_t i = 0; i < wrong.size(); ++i) {
    const std::string where = "\"wrong_answers\"[" + std::to_string(i) + "]";
    const json& w = wrong[i];
    if (!w.is_object() || !w.contains("answer") || !w.contains("why") || !w["why"].is_string())
      throw Refused(where + ": expected {\"answer\": ..., \"why\": \"...\"}");
    if (w["answer"] == s.reference) throw Refused(where + " equals the reference solution");
    for (const auto& earlier : s.wrong_answers)
      if (earlier.answer == w["answer"]) throw Refused(where + " repeats an earlier wrong answer");
    s.wrong_answers.push_back({w["answer"], w["why"].get<std::string>()});
  }

  s.world_db = workspace_file(ws, "world.db", "the SQLite world database");
  if (s.world_db.compare(0, 16, std::string("SQLite format 3\0", 16)) != 0)
    throw Refused("world.db is not an SQLite database");
  s.tools_py = text_file(ws, "tools.py", "the tool functions");
  s.tools_json = text_file(ws, "tools.json", "the tool schemas");
  s.tool_schemas = parse_tools_json(s.tools_json, rules);
  s.verify_py = text_file(ws, "verify.py", "the verifier");
  if (s.verify_py.find("def verify(") == std::string::npos)
    throw Refused("verify.py defines no function verify(answer, world, task)");

  const json& examples = field(args, "tool_examples");
  if (!examples.is_array()) throw Refused("\"tool_examples\": expected an array");
  std::set<std::string> covered;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const std::string where = "\"tool_examples\"[" + std::to_string(i) + "]";
    const json& e = examples[i];
    if (!e.is_object() || !e.contains("tool") || !e["tool"].is_string() || !e.contains("arguments") ||
        !e["arguments"].is_object())
      throw Refused(where + ": expected {\"tool\": \"name\", \"arguments\": {...}}");
    const std::string tool = e["tool"];
    const json* params = parameters_of(s.tool_schemas, tool);
    if (!params) throw Refused(where + ": tools.json has no tool \"" + tool + "\"");
    if (auto bad = agents::check_arguments(*params, e["arguments"]))
      throw Refused(where + ": the arguments do not fit the schema of \"" + tool + "\": " + *bad);
    covered.insert(tool);
    s.tool_examples.push_back({tool, e["arguments"]});
  }
  for (const auto& t : s.tool_schemas)
    if (!covered.count(t["function"]["name"].get<std::string>()))
      throw Refused("\"tool_examples\": give at least one working call of the tool \"" +
                    t["function"]["name"].get<std::string>() + "\"");

  if (previous) {
    if (s.world_db != previous->world_db || s.tools_py != previous->tools_py || s.tools_json != previous->tools_json)
      throw Refused("world.db, tools.py and tools.json are fixed after the first round; restore them and change "
                    "only the task (prompt, answer schema, reference, verify.py, wrong answers)");
    if (s.prompt == previous->prompt && s.reference == previous->reference && s.verify_py == previous->verify_py &&
        s.task_params == previous->task_params)
      throw Refused("this is the previous task unchanged; submit a harder variant");
  }
  return s;
}

}  // namespace

json Submission::task_object() const { return {{"prompt", prompt}, {"params", task_params}}; }

json submit_parameters() {
  return {
      {"type", "object"},
      {"properties",
       {{"task_prompt", {{"type", "string"}, {"description", "the task as the solver reads it, with the answer format"}}},
        {"answer_schema", {{"type", "object"}, {"description", "JSON Schema of the answer"}}},
        {"reference_solution", {{"description", "the correct answer; must fit answer_schema"}}},
        {"task_params", {{"type", "object"}, {"description", "data verify() needs, passed as task[\"params\"]"}}},
        {"wrong_answers",
         {{"type", "array"},
          {"description", "answers verify() must reject"},
          {"items",
           {{"type", "object"},
            {"properties", {{"answer", json::object()}, {"why", {{"type", "string"}}}}},
            {"required", {"answer", "why"}}}}}},
        {"tool_examples",
         {{"type", "array"},
          {"description", "at least one working call of every tool"},
          {"items",
           {{"type", "object"},
            {"properties", {{"tool", {{"type", "string"}}}, {"arguments", {{"type", "object"}}}}},
            {"required", {"tool", "arguments"}}}}}},
        {"solver_system_prompt", {{"type", "string"}, {"description", "optional system prompt for solvers"}}}}},
      {"required", {"task_prompt", "answer_schema", "reference_solution", "wrong_answers", "tool_examples"}},
      {"additionalProperties", false}};
}

std::variant<Submission, std::string> parse_submission(const json& args, const Workspace& ws,
                                                       const SubmissionRules& rules, const Submission* previous) {
  try {
    return parse(args, ws, rules, previous);
  } catch (const Refused& e) {
    return std::string(e.what());
  }
}

}  // namespace envforge::generators::authored
