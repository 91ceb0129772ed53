#include "agents/sse_stream.h"

#include "agents/chat_json.h"
#include "agents/openai_wire.h"

namespace envforge::agents {

using nlohmann::json;

void SseParser::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      pending_.append(bytes);
      return;
    }
    pending_.append(bytes.substr(0, nl));
    bytes.remove_prefix(nl + 1);
    std::string text = std::move(pending_);
    pending_.clear();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    line(text);
  }
}

void SseParser::line(std::string_view text) {
  if (text.empty()) {  // end of an event
    if (has_data_) {
      ++events_;
      std::string data = std::move(data_);
      data_.clear();
      has_data_ = false;
      sink_(data);
    }
    return;
  }
  if (text.front() == ':') return;  // comment / keep-alive
  auto colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{}
                                                           : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;  // event:, id:, retry: carry nothing we use
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
}

void SseParser::finish() {
  dropped_partial_ = has_data_ || !pending_.empty();
  pending_.clear();
  data_.clear();
  has_data_ = false;
}

namespace {

[[noreturn]] void bad_chunk(std::size_t n, const std::string& what) {
  throw BackendError(BackendErrorKind::kProtocol,
                     "malformed stream chunk " + std::to_string(n) + ": " + what);
}

std::string opt_string(const json& obj, const char* key, std::size_t n, const std::string& at) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string())
    bad_chunk(n, at + "." + key + ": expected a string or null, got " + json_type_name(*it));
  return it->get<std::string>();
}

}  // namespace

void StreamAccumulator::add(const std::string& data) {
  if (done_) return;
  std::string_view trimmed = data;
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\r'))
    trimmed.remove_suffix(1);
  if (trimmed == "[DONE]") {
    done_ = true;
    return;
  }
  ++chunks_;
  json chunk = json::parse(data, nullptr, false);
  if (chunk.is_discarded())
    bad_chunk(chunks_, "not JSON: " + snippet(data));
  if (!chunk.is_object()) bad_chunk(chunks_, std::string("expected an object, got ") + json_type_name(chunk));
  if (auto e = chunk.find("error"); e != chunk.end() && !e->is_null())
    throw BackendError(BackendErrorKind::kHttp,
                       "server sent an error in the stream: " + error_text_from_body(chunk.dump()));
  if (std::string m = opt_string(chunk, "model", chunks_, "chunk"); !m.empty()) out_.model = m;
  if (auto usage = chunk.find("usage"); usage != chunk.end() && !usage->is_null()) {
    if (!usage->is_object())
      bad_chunk(chunks_, std::string("usage: expected an object, got ") + json_type_name(*usage));
    auto count = [&](const json& obj, const char* key) -> std::int64_t {
      auto it = obj.find(key);
      if (it == obj.end() || it->is_null()) return 0;
      if (!it->is_number_integer()) bad_chunk(chunks_, std::string("usage.") + key + ": expected an integer");
      return it->get<std::int64_t>();
    };
    out_.usage.prompt_tokens = count(*usage, "prompt_tokens");
    out_.usage.completion_tokens = count(*usage, "completion_tokens");
    if (auto d = usage->find("completion_tokens_details"); d != usage->end() && d->is_object())
      out_.usage.reasoning_tokens = count(*d, "reasoning_tokens");
    out_.usage.reported = true;
  }
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || choices->is_null()) return;  // e.g. the usage-only last chunk
  if (!choices->is_array())
    bad_chunk(chunks_, std::string("choices: expected an array, got ") + json_type_name(*choices));
  if (choices->empty()) return;
  const json& choice = (*choices)[0];
  if (!choice.is_object())
    bad_chunk(chunks_, std::string("choices[0]: expected an object, got ") + json_type_name(choice));
  saw_choice_ = true;
  if (std::string fr = opt_string(choice, "finish_reason", chunks_, "choices[0]"); !fr.empty())
    out_.finish_reason = fr;
  auto delta = choice.find("delta");
  if (delta == choice.end() || delta->is_null()) return;
  if (!delta->is_object())
    bad_chunk(chunks_, std::string("choices[0].delta: expected an object, got ") + json_type_name(*delta));
  const std::string at = "choices[0].delta";
  std::string content = opt_string(*delta, "content", chunks_, at);
  std::string reasoning = opt_string(*delta, "reasoning_content", chunks_, at);
  if (reasoning.empty()) reasoning = opt_string(*delta, "reasoning", chunks_, at);
  if (!reasoning.empty()) {
    out_.message.reasoning += reasoning;
    if (on_event_) on_event_({StreamEvent::Kind::kReasoning, reasoning});
  }
  if (!content.empty()) {
    out_.message.content += content;
    if (on_event_) on_event_({StreamEvent::Kind::kContent, content});
  }
  if (auto calls = delta->find("tool_calls"); calls != delta->end() && !calls->is_null()) {
    if (!calls->is_array())
      bad_chunk(chunks_, at + ".tool_calls: expected an array, got " + json_type_name(*calls));
    for (std::size_t i = 0; i < calls->size(); ++i)
      add_tool_delta((*calls)[i], i, at + ".tool_calls[" + std::to_string(i) + "]");
  }
}

void StreamAccumulator::add_tool_delta(const json& d, std::size_t position, const std::string& at) {
  if (!d.is_object()) bad_chunk(chunks_, at + ": expected an object, got " + json_type_name(d));
  std::string id = opt_string(d, "id", chunks_, at);
  int index;
  if (auto it = d.find("index"); it != d.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int>() < 0)
      bad_chunk(chunks_, at + ".index: expected a non-negative integer, got " + it->dump());
    index = it->get<int>();
  } else if (last_index_ < 0 || (!id.empty() && id != calls_[last_index_].id)) {
    // Servers that omit the index: a new id starts a new call, otherwise it continues.
    index = last_index_ + 1 + static_cast<int>(position);
  } else {
    index = last_index_;
  }
  std::string name, args;
  if (auto fn = d.find("function"); fn != d.end() && !fn->is_null()) {
    if (!fn->is_object())
      bad_chunk(chunks_, at + ".function: expected an object, got " + json_type_name(*fn));
    name = opt_string(*fn, "name", chunks_, at + ".function");
    if (auto a = fn->find("arguments"); a != fn->end() && !a->is_null()) {
      if (a->is_string()) args = a->get<std::string>();
      else if (a->is_object()) args = a->dump();
      else bad_chunk(chunks_, at + ".function.arguments: expected a string, got " + json_type_name(*a));
    }
  }
  PartialCall& call = calls_[index];
  last_index_ = index;
  if (!id.empty()) call.id = id;
  if (!name.empty()) call.name += name;  // names normally come whole; some servers split them
  call.arguments += args;
  if (on_event_) {
    StreamEvent ev{StreamEvent::Kind::kToolCall, args, index, id, name};
    on_event_(ev);
  }
}

ChatResponse StreamAccumulator::finish() {
  if (!saw_choice_)
    throw BackendError(BackendErrorKind::kProtocol,
                       "malformed stream: " + std::to_string(chunks_) +
                           " chunk(s) and none carried a choice");
  out_.message.role = "assistant";
  int n = 0;
  for (auto& [index, call] : calls_) {
    if (call.name.empty())
      throw BackendError(BackendErrorKind::kProtocol,
                         "malformed stream: tool call " + std::to_string(index) + " has no name");
    std::string id = call.id.empty() ? "call_" + std::to_string(n) : call.id;
    out_.message.tool_calls.push_back(tool_call_from_text(id, call.name, call.arguments));
    ++n;
  }
  return out_;
}

}  // namespace envforge::agents
