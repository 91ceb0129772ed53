#include "model/text/chat_encoding.h"

#include "model/text/python_json.h"

namespace envforge::model::text {

namespace {

using ojson = nlohmann::ordered_json;

const std::string kToolsTemplateHead =
    "## Tools\n"
    "\n"
    "You have access to a set of tools you can use to answer the user's question.\n"
    "You can invoke functions by writing a \"<｜DSML｜function_calls>\" block like the following as part of your "
    "reply to the user:\n"
    "<｜DSML｜function_calls>\n"
    "<｜DSML｜invoke name=\"$FUNCTION_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"$FUNCTION_NAME2\">\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜function_calls>\n"
    "\n"
    "String and scalar parameters should be specified as is without any escaping or quotes, while lists and "
    "objects should use JSON format. The \"string\" attribute should be set to \"true\" for string type "
    "parameters and \"false\" for other types (numbers, booleans, arrays, objects).\n"
    "\n"
    "If the thinking_mode is enabled, then after function results you should strongly consider outputting a "
    "thinking block. Here is an example:\n"
    "\n"
    "<｜DSML｜function_calls>\n"
    "...\n"
    "</｜DSML｜function_calls>\n"
    "\n"
    "<function_results>\n"
    "...\n"
    "</function_results>\n"
    "\n"
    "<think>...thinking about results</think>\n"
    "\n"
    "Here are the functions available in JSONSchema format:\n"
    "<functions>\n";
const std::string kToolsTemplateTail = "\n</functions>\n";
const std::string kResponseFormatHead =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

// A message field; nullptr when absent (the reference's msg.get(key) -> None).
const ojson* field(const ojson& msg, const char* key) {
  if (!msg.is_object()) return nullptr;
  auto it = msg.find(key);
  if (it == msg.end() || it->is_null()) return nullptr;
  return &*it;
}

// Python truthiness of a message field.
bool truthy(const ojson* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number_integer()) return v->get<int64_t>() != 0;
  if (v->is_number_unsigned()) return v->get<uint64_t>() != 0;
  if (v->is_number_float()) return v->get<double>() != 0.0;
  if (v->is_string()) return !v->get_ref<const std::string&>().empty();
  return !v->empty();
}

// What str.format() prints for a field (None for an absent one).
std::string py_str(const ojson* v, const std::string& where) {
  if (v == nullptr) return "None";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "True" : "False";
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number_unsigned()) return std::to_string(v->get<uint64_t>());
  if (v->is_number_float()) return python_float_repr(v->get<double>());
  throw ChatFormatError(where + " must be a string, got " + v->dump().substr(0, 120));
}

std::string role_of(const ojson& msg) {
  const ojson* r = field(msg, "role");
  return r != nullptr && r->is_string() ? r->get<std::string>() : std::string();
}

std::string where(std::size_t index) { return "message " + std::to_string(index); }

int find_last_user_index(const ojson& messages) {
  for (int i = static_cast<int>(messages.size()) - 1; i >= 0; --i) {
    const std::string role = role_of(messages[i]);
    if (role == "user" || role == "developer") return i;
  }
  return -1;
}

std::string render_tools(const ojson& tools, const std::string& at) {
  std::string out = kToolsTemplateHead;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const ojson* fn = field(tools[i], "function");
    if (fn == nullptr) throw ChatFormatError(at + ": tools[" + std::to_string(i) + "] has no \"function\"");
    if (i > 0) out.push_back('\n');
    append_python_json(out, *fn);
  }
  return out + kToolsTemplateTail;
}

std::string render_system_extras(const ojson& msg, const std::string& at) {
  std::string out;
  if (const ojson* tools = field(msg, "tools"); truthy(tools)) {
    if (!tools->is_array()) throw ChatFormatError(at + ": \"tools\" must be an array");
    out += "\n\n" + render_tools(*tools, at);
  }
  if (const ojson* format = field(msg, "response_format"); truthy(format)) {
    out += "\n\n" + kResponseFormatHead + python_json_dumps(*format);
  }
  return out;
}

std::string encode_arguments(const ojson& call, const std::string& at) {
  const ojson* fn = field(call, "function");
  const ojson* raw = fn != nullptr ? field(*fn, "arguments") : nullptr;
  if (raw == nullptr) throw ChatFormatError(at + ": tool call has no function.arguments");
  ojson args;
  if (raw->is_string()) {
    try {
      args = ojson::parse(raw->get<std::string>());
    } catch (const ojson::parse_error& e) {
      throw ChatFormatError(at + ": tool call arguments are not valid JSON: " + e.what());
    }
  } else {
    args = *raw;
  }
  if (!args.is_object()) throw ChatFormatError(at + ": tool call arguments must be a JSON object");
  std::string out;
  bool first = true;
  for (const auto& [key, value] : args.items()) {
    if (!first) out.push_back('\n');
    first = false;
    const bool is_str = value.is_string();
    out += "<｜DSML｜parameter name=\"" + key + "\" string=\"" + (is_str ? "true" : "false") + "\">";
    out += is_str ? value.get<std::string>() : python_json_dumps(value);
    out += "</｜DSML｜parameter>";
  }
  return out;
}

constexpr const char* kCallsOpen = "\n\n<｜DSML｜function_calls>\n";
constexpr const char* kInvokeOpen = "<｜DSML｜invoke name=\"";

std::string render_tool_calls(const ojson& calls, const std::string& at) {
  std::string out = kCallsOpen;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const ojson* fn = field(calls[i], "function");
    const ojson* name = fn != nullptr ? field(*fn, "name") : nullptr;
    if (name == nullptr) throw ChatFormatError(at + ": tool_calls[" + std::to_string(i) + "] has no function.name");
    if (i > 0) out.push_back('\n');
    out += kInvokeOpen + py_str(name, at + " tool name") + "\">\n";
    out += encode_arguments(calls[i], at + " tool_calls[" + std::to_string(i) + "]");
    out += "\n</｜DSML｜invoke>";
  }
  return out + "\n</｜DSML｜function_calls>";
}

// messages[i] with Python's negative indexing.
const ojson& py_at(const ojson& messages, int i) {
  return messages[static_cast<std::size_t>(i < 0 ? i + static_cast<int>(messages.size()) : i)];
}

std::string render_message(int index, const ojson& messages, ThinkingMode mode) {
  if (index < 0 || index >= static_cast<int>(messages.size())) {
    throw ChatFormatError("message index " + std::to_string(index) + " is out of range for " +
                          std::to_string(messages.size()) +
                          " messages (thinking mode drops developer messages before the last user message)");
  }
  const bool thinking = mode == ThinkingMode::kThinking;
  const ojson& msg = messages[index];
  const std::string at = where(index);
  const int last_user = find_last_user_index(messages);
  const std::string role = role_of(msg);
  const ojson* content = field(msg, "content");
  std::string prompt;

  if (role == "system") {
    prompt += truthy(content) ? py_str(content, at + " content") : "";
    prompt += render_system_extras(msg, at);
  } else if (role == "developer") {
    if (!truthy(content)) throw ChatFormatError(at + ": a developer message needs content");
    const std::string body = render_system_extras(msg, at) + "\n\n# The user's message is: " + py_str(content, at);
    prompt += std::string(kUserToken) + body + std::string(kAssistantToken);
    prompt += index == last_user && thinking ? kThinkStart : kThinkEnd;
  } else if (role == "user") {
    prompt += std::string(kUserToken) + py_str(content, at + " content") + std::string(kAssistantToken);
    prompt += index == last_user && thinking ? kThinkStart : kThinkEnd;
  } else if (role == "tool") {
    int prev = index - 1;
    const ojson* assistant = &py_at(messages, prev);
    while (prev >= 0 && role_of(*assistant) == "tool") {
      --prev;
      assistant = &py_at(messages, prev);
    }
    if (!(index == 0 || (prev >= 0 && role_of(*assistant) == "assistant"))) {
      throw ChatFormatError(at + ": a tool result must follow an assistant message with tool calls");
    }
    const int order = index - prev;
    const ojson* calls = field(*assistant, "tool_calls");
    if (!truthy(calls) || static_cast<int>(calls->size()) < order) {
      throw ChatFormatError(at + ": no tool call for this tool output (tool result " + std::to_string(order) +
                            " after an assistant message with " +
                            std::to_string(truthy(calls) ? calls->size() : 0) + " tool calls)");
    }
    if (order == 1) prompt += "\n\n<function_results>";
    prompt += "\n<result>" + py_str(content, at + " content") + "</result>";
    if (order == static_cast<int>(calls->size())) {
      prompt += "\n</function_results>\n\n";
      prompt += index >= last_user && thinking ? kThinkStart : kThinkEnd;
    }
  } else if (role == "assistant") {
    const ojson* calls = field(msg, "tool_calls");
    std::string calls_text;
    if (truthy(calls)) {
      if (!calls->is_array()) throw ChatFormatError(at + ": \"tool_calls\" must be an array");
      calls_text = render_tool_calls(*calls, at);
    }
    std::string thinking_part;
    if (thinking && index > last_user) {
      const ojson* reasoning = field(msg, "reasoning_content");
      if (!truthy(reasoning) && calls_text.empty()) {
        throw ChatFormatError(at + ": in thinking mode an assistant message after the last user message needs "
                                   "reasoning_content or tool_calls");
      }
      thinking_part = (truthy(reasoning) ? py_str(reasoning, at + " reasoning_content") : "") +
                      std::string(kThinkEnd);
    }
    prompt += thinking_part + (truthy(content) ? py_str(content, at + " content") : "") + calls_text +
              std::string(kEosToken);
  } else {
    throw ChatFormatError(at + ": unknown role '" + role + "'");
  }
  return prompt;
}

// Thinking mode keeps the reasoning of the current turn only. Like the reference,
// this drops any message before the last user turn whose role is not user,
// system, tool or assistant.
ojson drop_thinking_messages(const ojson& messages) {
  const int last_user = find_last_user_index(messages);
  ojson out = ojson::array();
  for (int i = 0; i < static_cast<int>(messages.size()); ++i) {
    const std::string role = role_of(messages[i]);
    if (role == "user" || role == "system" || role == "tool" || i >= last_user) {
      out.push_back(messages[i]);
    } else if (role == "assistant") {
      ojson copy = messages[i];
      copy.erase("reasoning_content");
      out.push_back(std::move(copy));
    }
  }
  return out;
}

}  // namespace

std::string encode_messages(const ojson& messages, const ChatEncodeOptions& options, const ojson& context) {
  if (!messages.is_array()) throw ChatFormatError("messages must be an array");
  if (!context.is_array()) throw ChatFormatError("context must be an array");
  ojson full = context;
  for (const auto& m : messages) {
    if (!m.is_object()) throw ChatFormatError("every message must be an object, got " + m.dump().substr(0, 120));
    full.push_back(m);
  }
  std::string prompt = options.add_bos && context.empty() ? std::string(kBosToken) : std::string();
  if (options.mode == ThinkingMode::kThinking && options.drop_thinking) full = drop_thinking_messages(full);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    prompt += render_message(static_cast<int>(i + context.size()), full, options.mode);
  }
  return prompt;
}

ojson to_reference_messages(const std::vector<ChatMessage>& messages, const std::vector<ToolSchema>& tools) {
  ojson out = ojson::array();
  for (const ChatMessage& m : messages) {
    ojson msg = ojson::object();
    msg["role"] = m.role;
    msg["content"] = m.content;
    if (!m.reasoning.empty()) msg["reasoning_content"] = m.reasoning;
    if (!m.tool_calls.empty()) {
      ojson calls = ojson::array();
      for (const ToolCall& c : m.tool_calls) {
        ojson fn = ojson::object();
        fn["name"] = c.name;
        fn["arguments"] = python_json_dumps(ojson(c.arguments));
        calls.push_back(ojson{{"id", c.id}, {"type", "function"}, {"function", std::move(fn)}});
      }
      msg["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
    out.push_back(std::move(msg));
  }
  if (!tools.empty()) {
    ojson list = ojson::array();
    for (const ToolSchema& t : tools) list.push_back(ojson(t));
    if (out.empty() || out[0]["role"] != "system") {
      out.insert(out.begin(), ojson{{"role", "system"}, {"content", ""}});
    }
    out[0]["tools"] = std::move(list);
  }
  return out;
}

std::string encode_chat(const std::vector<ChatMessage>& messages, const std::vector<ToolSchema>& tools,
                        const ChatEncodeOptions& options) {
  return encode_messages(to_reference_messages(messages, tools), options);
}

std::string tool_call_opening(const std::string& name) {
  std::string out = std::string(kCallsOpen) + kInvokeOpen;
  return name.empty() ? out : out + name + "\">\n";
}

}  // namespace envforge::model::text
