#include "server/openai_endpoint_request.h"

#include <set>

#include "agents/chat_json.h"

namespace envforge::server {

using nlohmann::json;
using agents::json_type_name;

std::string EndpointError::default_type(int status) {
  if (status == 401) return "authentication_error";
  if (status == 404) return "not_found_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

json EndpointError::to_json() const {
  return {{"error",
           {{"message", what()},
            {"type", type_},
            {"param", param_.empty() ? json(nullptr) : json(param_)},
            {"code", code_.empty() ? json(nullptr) : json(code_)}}}};
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& what) {
  throw EndpointError(400, param + ": " + what, param);
}

[[noreturn]] void wrong_type(const std::string& param, const char* expected, const json& got) {
  bad(param, std::string("expected ") + expected + ", got " + json_type_name(got));
}

const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<std::string> opt_string(const json& obj, const char* key, const std::string& at) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(at + key, "a string", *v);
  return v->get<std::string>();
}

std::optional<bool> opt_bool(const json& obj, const char* key, const std::string& at) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(at + key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<double> opt_number(const json& obj, const char* key, double lo, double hi, bool lo_open) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  const double x = v->get<double>();
  if (x > hi || x < lo || (lo_open && x == lo))
    bad(key, "must be " + std::string(lo_open ? "above " : "at least ") + json(lo).dump() + " and at most " +
                 json(hi).dump() + ", got " + v->dump());
  return x;
}

std::optional<std::int64_t> opt_integer(const json& obj, const char* key, std::int64_t lo, std::int64_t hi) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    bad(key, "must be at most " + std::to_string(hi) + ", got " + v->dump());
  const std::int64_t x = v->get<std::int64_t>();
  if (x < lo || x > hi)
    bad(key, "must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + v->dump());
  return x;
}

// OpenAI content: a string, null, or an array of {"type":"text","text":...} parts.
std::string content_text(const json& msg, const std::string& at) {
  const json* c = field(msg, "content");
  if (!c) return {};
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array()) wrong_type(at + "content", "a string, an array of text parts or null", *c);
  std::string out;
  for (std::size_t i = 0; i < c->size(); ++i) {
    const json& part = (*c)[i];
    const std::string pat = at + "content[" + std::to_string(i) + "]";
    if (!part.is_object()) wrong_type(pat, "an object", part);
    const std::string type = opt_string(part, "type", pat + ".").value_or("");
    if (type != "text") bad(pat + ".type", "only \"text\" parts are supported, got \"" + type + "\"");
    const std::optional<std::string> text = opt_string(part, "text", pat + ".");
    if (!text) bad(pat + ".text", "missing");
    out += *text;
  }
  return out;
}

model::ChatMessage parse_message(const json& m, const std::string& at) {
  if (!m.is_object()) wrong_type(at, "an object", m);
  static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
  const std::optional<std::string> role = opt_string(m, "role", at + ".");
  if (!role) bad(at + ".role", "missing");
  if (!kRoles.count(*role))
    bad(at + ".role", "unknown role \"" + *role + "\" (expected system, developer, user, assistant or tool)");
  model::ChatMessage out;
  out.role = *role;
  out.content = content_text(m, at + ".");
  out.name = opt_string(m, "name", at + ".").value_or("");
  if (out.role == "assistant") {
    out.reasoning = opt_string(m, "reasoning_content", at + ".").value_or("");
    if (out.reasoning.empty()) out.reasoning = opt_string(m, "reasoning", at + ".").value_or("");
    if (const json* calls = field(m, "tool_calls")) {
      if (!calls->is_array()) wrong_type(at + ".tool_calls", "an array", *calls);
      for (std::size_t i = 0; i < calls->size(); ++i) {
        const json& c = (*calls)[i];
        const std::string cat = at + ".tool_calls[" + std::to_string(i) + "]";
        if (!c.is_object()) wrong_type(cat, "an object", c);
        const std::string type = opt_string(c, "type", cat + ".").value_or("function");
        if (type != "function") bad(cat + ".type", "expected \"function\", got \"" + type + "\"");
        const std::string id = opt_string(c, "id", cat + ".").value_or("");
        if (id.empty()) bad(cat + ".id", "missing or empty");
        const json* fn = field(c, "function");
        if (!fn) bad(cat + ".function", "missing");
        if (!fn->is_object()) wrong_type(cat + ".function", "an object", *fn);
        const std::string name = opt_string(*fn, "name", cat + ".function.").value_or("");
        if (name.empty()) bad(cat + ".function.name", "missing or empty");
        const json* args = field(*fn, "arguments");
        if (!args) {
          out.tool_calls.push_back(agents::tool_call_from_text(id, name, ""));
        } else if (args->is_string()) {
          out.tool_calls.push_back(agents::tool_call_from_text(id, name, args->get<std::string>()));
        } else if (args->is_object()) {
          out.tool_calls.push_back({id, name, *args});
        } else {
          wrong_type(cat + ".function.arguments", "a string", *args);
        }
      }
    }
  } else {
    for (const char* only_assistant : {"tool_calls", "reasoning_content"})
      if (field(m, only_assistant)) bad(at + "." + only_assistant, "only assistant messages have it");
  }
  if (out.role == "tool") {
    const std::optional<std::string> id = opt_string(m, "tool_call_id", at + ".");
    if (!id || id->empty()) bad(at + ".tool_call_id", "missing: a tool message answers one tool call by its id");
    out.tool_call_id = *id;
  }
  return out;
}

// "auto", "none", "required" (some tool must be called) or {"type": "function", "function":
// {"name": N}} with N one of the request's tools.
json parse_tool_choice(const json& choice, const std::vector<model::ToolSchema>& tools) {
  if (choice.is_string()) {
    if (choice != "auto" && choice != "none" && choice != "required")
      bad("tool_choice", "expected \"auto\", \"none\", \"required\" or a function, got " + choice.dump());
    if (choice == "required" && tools.empty()) bad("tool_choice", "\"required\" needs tools");
    return choice;
  }
  if (!choice.is_object()) wrong_type("tool_choice", "a string or an object", choice);
  if (choice.value("type", json()) != "function") bad("tool_choice.type", "expected \"function\"");
  const json* fn = field(choice, "function");
  if (!fn || !fn->is_object()) bad("tool_choice.function", "missing");
  const std::string name = opt_string(*fn, "name", "tool_choice.function.").value_or("");
  if (name.empty()) bad("tool_choice.function.name", "missing");
  for (const model::ToolSchema& t : tools)
    if (t.is_object() && t.contains("function") && t["function"].value("name", "") == name) return choice;
  bad("tool_choice.function.name", "\"" + name + "\" is not one of the request's tools");
}

// Every tool message answers a call of the assistant message before it (tool messages between).
void check_tool_results(const std::vector<model::ChatMessage>& messages) {
  const model::ChatMessage* caller = nullptr;  // the assistant message with the calls answered
  std::size_t caller_index = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const model::ChatMessage& m = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (m.role == "assistant") {
      caller = m.tool_calls.empty() ? nullptr : &m;
      caller_index = i;
    } else if (m.role == "tool") {
      if (!caller) bad(at, "a tool message must follow an assistant message with tool_calls");
      bool found = false;
      for (const auto& c : caller->tool_calls) found = found || c.id == m.tool_call_id;
      if (!found)
        bad(at + ".tool_call_id", "\"" + m.tool_call_id + "\" matches no tool call of messages[" +
                                      std::to_string(caller_index) + "]");
    } else {
      caller = nullptr;
    }
  }
}

std::vector<model::ToolSchema> parse_tools(const json& tools) {
  if (!tools.is_array()) wrong_type("tools", "an array", tools);
  std::vector<model::ToolSchema> out;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    const std::string at = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) wrong_type(at, "an object", t);
    const std::string type = opt_string(t, "type", at + ".").value_or("");
    if (type != "function") bad(at + ".type", "expected \"function\", got \"" + type + "\"");
    const json* fn = field(t, "function");
    if (!fn) bad(at + ".function", "missing");
    if (!fn->is_object()) wrong_type(at + ".function", "an object", *fn);
    if (opt_string(*fn, "name", at + ".function.").value_or("").empty()) bad(at + ".function.name", "missing or empty");
    opt_string(*fn, "description", at + ".function.");
    if (const json* p = field(*fn, "parameters"); p && !p->is_object())
      wrong_type(at + ".function.parameters", "an object (a JSON schema)", *p);
    out.push_back(t);
  }
  return out;
}

model::text::ThinkingMode parse_mode(const json& body, model::text::ThinkingMode mode) {
  // OpenAI's reasoning_effort: DeepSeek-V3.2 has no effort levels, only thinking on or off.
  if (std::optional<std::string> effort = opt_string(body, "reasoning_effort", "")) {
    if (*effort == "none") mode = model::text::ThinkingMode::kChat;
    else if (*effort == "low" || *effort == "medium" || *effort == "high") mode = model::text::ThinkingMode::kThinking;
    else bad("reasoning_effort", "expected \"none\", \"low\", \"medium\" or \"high\", got \"" + *effort + "\"");
  }
  // vLLM and SGLang: chat_template_kwargs {"thinking": true} (or "enable_thinking").
  if (const json* kw = field(body, "chat_template_kwargs")) {
    if (!kw->is_object()) wrong_type("chat_template_kwargs", "an object", *kw);
    for (const char* key : {"thinking", "enable_thinking"})
      if (std::optional<bool> on = opt_bool(*kw, key, "chat_template_kwargs."))
        mode = *on ? model::text::ThinkingMode::kThinking : model::text::ThinkingMode::kChat;
  }
  // DeepSeek's API: "thinking": {"type": "enabled" | "disabled"}.
  if (const json* t = field(body, "thinking")) {
    if (!t->is_object()) wrong_type("thinking", "an object like {\"type\": \"enabled\"}", *t);
    const std::string type = opt_string(*t, "type", "thinking.").value_or("");
    if (type == "enabled") mode = model::text::ThinkingMode::kThinking;
    else if (type == "disabled") mode = model::text::ThinkingMode::kChat;
    else bad("thinking.type", "expected \"enabled\" or \"disabled\", got \"" + type + "\"");
  }
  return mode;
}

}  // namespace

EndpointRequest parse_endpoint_request(const std::string& text, const EndpointLimits& limits) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::parse_error& e) {
    throw EndpointError(400, std::string("the request body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
  if (!body.is_object()) wrong_type("body", "a JSON object", body);
  EndpointRequest out;
  if (std::optional<std::string> model = opt_string(body, "model", ""); model && *model != limits.model_name)
    throw EndpointError(404, "The model `" + *model + "` does not exist; this server serves `" + limits.model_name + "`",
                        "model", "model_not_found");

  const json* messages = field(body, "messages");
  if (!messages) bad("messages", "missing");
  if (!messages->is_array()) wrong_type("messages", "an array", *messages);
  if (messages->empty()) bad("messages", "empty: at least one message is needed");
  for (std::size_t i = 0; i < messages->size(); ++i)
    out.chat.messages.push_back(parse_message((*messages)[i], "messages[" + std::to_string(i) + "]"));
  check_tool_results(out.chat.messages);

  if (const json* tools = field(body, "tools")) out.chat.tools = parse_tools(*tools);
  if (const json* choice = field(body, "tool_choice")) {
    out.chat.tool_choice = parse_tool_choice(*choice, out.chat.tools);
    if (*choice == "none") out.chat.tools.clear();  // the model is not offered the tools
  }

  agents::SamplingParams& s = out.chat.sampling;
  std::optional<std::int64_t> max_tokens = opt_integer(body, "max_tokens", 1, 1 << 30);
  if (auto mct = opt_integer(body, "max_completion_tokens", 1, 1 << 30)) max_tokens = mct;
  if (max_tokens) s.max_tokens = static_cast<int>(*max_tokens);
  s.temperature = opt_number(body, "temperature", 0, 2, false);
  s.top_p = opt_number(body, "top_p", 0, 1, true);
  s.seed = opt_integer(body, "seed", INT64_MIN, INT64_MAX);
  if (const json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      s.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 16) bad("stop", "at most 16 stop strings, got " + std::to_string(stop->size()));
      for (std::size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string()) wrong_type("stop[" + std::to_string(i) + "]", "a string", (*stop)[i]);
        s.stop.push_back((*stop)[i].get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", *stop);
    }
    for (const std::string& one : s.stop)
      if (one.empty()) bad("stop", "an empty stop string would end every reply at once");
  }
  out.n = static_cast<int>(opt_integer(body, "n", 1, INT64_MAX).value_or(1));
  if (out.n > limits.max_n)
    bad("n", "at most " + std::to_string(limits.max_n) + " choices per request, got " + std::to_string(out.n));
  out.chat.stream = opt_bool(body, "stream", "").value_or(false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) wrong_type("stream_options", "an object", *so);
    out.include_usage = opt_bool(*so, "include_usage", "stream_options.").value_or(false);
  }
  const bool logprobs = opt_bool(body, "logprobs", "").value_or(false);
  const auto top = opt_integer(body, "top_logprobs", 0, model::kMaxTopLogprobs);
  if (top && !logprobs) bad("top_logprobs", "top_logprobs needs \"logprobs\": true");
  if (logprobs) out.top_logprobs = static_cast<int>(top.value_or(0));
  if (const json* rf = field(body, "response_format")) {
    if (!rf->is_object()) wrong_type("response_format", "an object", *rf);
    const std::string type = opt_string(*rf, "type", "response_format.").value_or("text");
    if (type != "text") bad("response_format.type", "only \"text\" is supported, got \"" + type + "\"");
  }
  out.mode = parse_mode(body, limits.default_mode);
  return out;
}

}  // namespace envforge::server
