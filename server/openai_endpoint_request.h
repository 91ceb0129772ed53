// The request side of the OpenAI-compatible endpoint: a POST /v1/chat/completions body checked
// field by field and turned into the agents' ChatRequest, and the OpenAI-shaped errors
// ({"error": {"message", "type", "param", "code"}}) every failure is answered with.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "model/text/chat_tokens.h"
#include "model/token_logprob.h"

namespace envforge::server {

// A request the endpoint refuses: the HTTP status and the OpenAI error object's fields.
class EndpointError : public std::runtime_error {
 public:
  EndpointError(int status, const std::string& message, std::string param = {},
                std::string code = {}, std::string type = {})
      : std::runtime_error(message), status_(status), param_(std::move(param)), code_(std::move(code)),
        type_(type.empty() ? default_type(status) : std::move(type)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  const std::string& type() const { return type_; }
  nlohmann::json to_json() const;

 private:
  static std::string default_type(int status);
  int status_;
  std::string param_, code_, type_;
};

struct EndpointLimits {
  std::string model_name;  // the one model served; requests naming another get 404
  model::text::ThinkingMode default_mode = model::text::ThinkingMode::kChat;
  int max_n = 16;          // choices per request
};

struct EndpointRequest {
  agents::ChatRequest chat;  // messages, tools, sampling, stream
  model::text::ThinkingMode mode = model::text::ThinkingMode::kChat;
  int n = 1;
  bool include_usage = false;  // stream_options.include_usage
  int top_logprobs = -1;       // -1: no logprobs; else `logprobs: true` with this many alternatives
};

// Parses and checks a request body. Throws EndpointError (400 naming the field, 404 for another
// model). Unknown fields are ignored, as OpenAI-compatible servers do.
EndpointRequest parse_endpoint_request(const std::string& body, const EndpointLimits& limits);

}  // namespace envforge::server
