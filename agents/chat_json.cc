#include "agents/chat_json.h"

#include <algorithm>
#include <stdexcept>

namespace envforge::agents {

using nlohmann::json;

const char* json_type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "value";
  }
}

json message_to_json(const model::ChatMessage& m) {
  json j = {{"role", m.role}, {"content", m.content}};
  if (!m.reasoning.empty()) j["reasoning"] = m.reasoning;
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
    j["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  return j;
}

namespace {

std::string string_field(const json& j, const char* key, const std::string& where,
                         bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw std::invalid_argument(where + ": missing \"" + key + "\"");
    return {};
  }
  if (!it->is_string())
    throw std::invalid_argument(where + "." + key + ": expected a string, got " +
                                json_type_name(*it));
  return it->get<std::string>();
}

}  // namespace

model::ChatMessage message_from_json(const json& j, const std::string& where) {
  if (!j.is_object())
    throw std::invalid_argument(where + ": expected an object, got " + json_type_name(j));
  model::ChatMessage m;
  m.role = string_field(j, "role", where, true);
  m.content = string_field(j, "content", where, false);
  m.reasoning = string_field(j, "reasoning", where, false);
  m.tool_call_id = string_field(j, "tool_call_id", where, false);
  m.name = string_field(j, "name", where, false);
  if (auto it = j.find("tool_calls"); it != j.end() && !it->is_null()) {
    if (!it->is_array())
      throw std::invalid_argument(where + ".tool_calls: expected an array, got " +
                                  json_type_name(*it));
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& c = (*it)[i];
      const std::string at = where + ".tool_calls[" + std::to_string(i) + "]";
      if (!c.is_object())
        throw std::invalid_argument(at + ": expected an object, got " + json_type_name(c));
      model::ToolCall call;
      call.id = string_field(c, "id", at, false);
      call.name = string_field(c, "name", at, true);
      auto args = c.find("arguments");
      if (args == c.end() || args->is_null()) {
        call.arguments = json::object();
      } else if (args->is_string()) {
        call = tool_call_from_text(call.id, call.name, args->get<std::string>());
      } else {
        call.arguments = *args;  // an object, or a malformed non-object kept as it is
        if (!call.arguments.is_object()) call.arguments = call.arguments.dump();
      }
      m.tool_calls.push_back(std::move(call));
    }
  }
  return m;
}

namespace {

// How deep arrays and objects nest in JSON text (strings skipped), without parsing it.
std::size_t nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

model::ToolCall tool_call_from_text(std::string id, std::string name, std::string_view text) {
  model::ToolCall call;
  call.id = std::move(id);
  call.name = std::move(name);
  bool blank = text.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) {
    call.arguments = json::object();
    return call;
  }
  if (nesting_depth(text) > kMaxArgumentDepth) {  // kept as text: it is never walked recursively
    call.arguments = std::string(text);
    return call;
  }
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object())
    call.arguments = std::move(parsed);
  else
    call.arguments = std::string(text);
  return call;
}

bool arguments_malformed(const model::ToolCall& call) { return !call.arguments.is_object(); }

std::string malformed_arguments_reason(const model::ToolCall& call) {
  if (!call.arguments.is_string())
    return std::string("arguments must be a JSON object, got ") + json_type_name(call.arguments);
  const std::string& text = call.arguments.get_ref<const std::string&>();
  if (nesting_depth(text) > kMaxArgumentDepth)
    return "arguments nest deeper than " + std::to_string(kMaxArgumentDepth) + " levels";
  try {
    json parsed = json::parse(text);
    return std::string("arguments must be a JSON object, got ") + json_type_name(parsed);
  } catch (const json::parse_error& e) {
    return std::string("arguments are not valid JSON (") + e.what() + ")";
  }
}

}  // namespace envforge::agents
