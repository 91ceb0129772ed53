#include "agents/openai_wire.h"

#include <algorithm>
#include <cstdio>

#include "agents/chat_json.h"
#include "model/text/utf8.h"

namespace envforge::agents {

using nlohmann::json;

namespace {

[[noreturn]] void bad_reply(const std::string& what) {
  throw BackendError(BackendErrorKind::kProtocol, "malformed chat completion reply: " + what);
}

// A string field that may be absent or null; anything else is a schema violation.
std::string optional_string(const json& obj, const char* key, const std::string& at) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string())
    bad_reply(at + "." + key + ": expected a string or null, got " + json_type_name(*it));
  return it->get<std::string>();
}

std::int64_t optional_count(const json& obj, const char* key, const std::string& at) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return 0;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
    bad_reply(at + "." + key + ": expected a non-negative integer, got " + it->dump());
  return it->get<std::int64_t>();
}

// True when any assistant message in the user turn that contains `index` called tools.
std::vector<bool> tool_turn_flags(const std::vector<model::ChatMessage>& messages) {
  std::vector<bool> flags(messages.size(), false);
  std::size_t start = 0;
  auto close_turn = [&](std::size_t end) {
    bool called = false;
    for (std::size_t i = start; i < end; ++i)
      if (messages[i].role == "assistant" && !messages[i].tool_calls.empty()) called = true;
    for (std::size_t i = start; i < end; ++i) flags[i] = called;
  };
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == "user") {
      close_turn(i);
      start = i;
    }
  }
  close_turn(messages.size());
  return flags;
}

}  // namespace

std::string snippet(std::string_view text, std::size_t max_chars) {
  // Valid UTF-8 whatever the bytes: cut on a character boundary, ill-formed bytes replaced.
  std::string_view head = text.substr(0, std::min(text.size(), max_chars));
  if (head.size() < text.size()) head.remove_suffix(model::text::incomplete_utf8_suffix(head));
  const std::string clean = model::text::sanitize_utf8(head);
  std::string out;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(clean[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

json message_to_openai(const model::ChatMessage& m, bool with_reasoning) {
  json j = {{"role", m.role}, {"content", m.content}};
  if (m.role == "assistant") {
    if (with_reasoning && !m.reasoning.empty()) j["reasoning_content"] = m.reasoning;
    if (!m.tool_calls.empty()) {
      json calls = json::array();
      for (const auto& c : m.tool_calls) {
        std::string args = c.arguments.is_string() ? c.arguments.get<std::string>()
                                                   : c.arguments.dump();
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", args}}}});
      }
      j["tool_calls"] = std::move(calls);
    }
  }
  if (m.role == "tool") j["tool_call_id"] = m.tool_call_id;
  return j;
}

json build_chat_body(const ChatRequest& request, const WireOptions& options) {
  json body = json::object();
  body["model"] = options.model;
  std::vector<bool> tool_turn = tool_turn_flags(request.messages);
  json messages = json::array();
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    bool echo = options.reasoning_echo == ReasoningEcho::kAlways ||
                (options.reasoning_echo == ReasoningEcho::kToolTurns && tool_turn[i]);
    messages.push_back(message_to_openai(request.messages[i], echo));
  }
  body["messages"] = std::move(messages);
  if (!request.tools.empty()) {
    body["tools"] = request.tools;
    if (!request.tool_choice.is_null()) body["tool_choice"] = request.tool_choice;
  }
  const SamplingParams& s = request.sampling;
  if (s.temperature) body["temperature"] = *s.temperature;
  if (s.top_p) body["top_p"] = *s.top_p;
  if (s.max_tokens) body["max_tokens"] = *s.max_tokens;
  if (s.seed) body["seed"] = *s.seed;
  if (!s.stop.empty()) body["stop"] = s.stop;
  body["stream"] = request.stream;
  if (request.stream && options.stream_usage)
    body["stream_options"] = {{"include_usage", true}};
  for (auto it = options.extra_body.begin(); it != options.extra_body.end(); ++it)
    body[it.key()] = it.value();
  return body;
}

ChatResponse parse_chat_completion(const json& reply) {
  if (!reply.is_object()) bad_reply(std::string("expected an object, got ") + json_type_name(reply));
  if (auto e = reply.find("error"); e != reply.end() && !e->is_null())
    throw BackendError(BackendErrorKind::kHttp,
                       "server returned an error object: " + error_text_from_body(reply.dump()));
  ChatResponse out;
  out.model = optional_string(reply, "model", "reply");
  auto choices = reply.find("choices");
  if (choices == reply.end()) bad_reply("missing \"choices\"");
  if (!choices->is_array()) bad_reply(std::string("choices: expected an array, got ") +
                                      json_type_name(*choices));
  if (choices->empty()) bad_reply("choices: empty array, no reply to read");
  const json& choice = (*choices)[0];
  if (!choice.is_object())
    bad_reply(std::string("choices[0]: expected an object, got ") + json_type_name(choice));
  out.finish_reason = optional_string(choice, "finish_reason", "choices[0]");
  auto msg_it = choice.find("message");
  if (msg_it == choice.end()) bad_reply("choices[0]: missing \"message\"");
  const json& msg = *msg_it;
  if (!msg.is_object())
    bad_reply(std::string("choices[0].message: expected an object, got ") + json_type_name(msg));
  const std::string at = "choices[0].message";
  out.message.role = "assistant";
  if (std::string role = optional_string(msg, "role", at); !role.empty() && role != "assistant")
    bad_reply(at + ".role: expected \"assistant\", got \"" + role + "\"");
  out.message.content = optional_string(msg, "content", at);
  // DeepSeek and SGLang call it reasoning_content; newer vLLM also sends "reasoning".
  out.message.reasoning = optional_string(msg, "reasoning_content", at);
  if (out.message.reasoning.empty()) out.message.reasoning = optional_string(msg, "reasoning", at);
  if (auto calls = msg.find("tool_calls"); calls != msg.end() && !calls->is_null()) {
    if (!calls->is_array())
      bad_reply(at + ".tool_calls: expected an array, got " + json_type_name(*calls));
    for (std::size_t i = 0; i < calls->size(); ++i) {
      const json& c = (*calls)[i];
      const std::string cat = at + ".tool_calls[" + std::to_string(i) + "]";
      if (!c.is_object()) bad_reply(cat + ": expected an object, got " + json_type_name(c));
      std::string id = optional_string(c, "id", cat);
      if (id.empty()) id = "call_" + std::to_string(i);
      auto fn = c.find("function");
      if (fn == c.end()) bad_reply(cat + ": missing \"function\"");
      if (!fn->is_object())
        bad_reply(cat + ".function: expected an object, got " + json_type_name(*fn));
      std::string name = optional_string(*fn, "name", cat + ".function");
      if (name.empty()) bad_reply(cat + ".function.name: missing or empty");
      auto args = fn->find("arguments");
      if (args == fn->end() || args->is_null()) {
        out.message.tool_calls.push_back(tool_call_from_text(id, name, ""));
      } else if (args->is_string()) {
        out.message.tool_calls.push_back(tool_call_from_text(id, name, args->get<std::string>()));
      } else if (args->is_object()) {  // some servers send the object itself
        model::ToolCall call{id, name, *args};
        out.message.tool_calls.push_back(std::move(call));
      } else {
        bad_reply(cat + ".function.arguments: expected a string, got " + json_type_name(*args));
      }
    }
  }
  if (auto usage = reply.find("usage"); usage != reply.end() && !usage->is_null()) {
    if (!usage->is_object())
      bad_reply(std::string("usage: expected an object, got ") + json_type_name(*usage));
    out.usage.prompt_tokens = optional_count(*usage, "prompt_tokens", "usage");
    out.usage.completion_tokens = optional_count(*usage, "completion_tokens", "usage");
    if (auto d = usage->find("completion_tokens_details"); d != usage->end() && d->is_object())
      out.usage.reasoning_tokens = optional_count(*d, "reasoning_tokens", "usage.completion_tokens_details");
    out.usage.reported = true;
  }
  return out;
}

std::string error_text_from_body(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    for (const char* key : {"error", "detail", "message"}) {
      auto it = j.find(key);
      if (it == j.end()) continue;
      if (it->is_string()) return snippet(it->get<std::string>(), 1000);
      if (it->is_object()) {
        auto m = it->find("message");
        if (m != it->end() && m->is_string()) return snippet(m->get<std::string>(), 1000);
      }
      return snippet(it->dump());
    }
  }
  return snippet(body);
}

}  // namespace envforge::agents
