// Request bodies the endpoint refuses, each with a 400 (or 404) naming the field, and the ones
// it reads.
#include <gtest/gtest.h>

#include "server/openai_endpoint_request.h"

namespace envforge::server {
namespace {

using nlohmann::json;

EndpointLimits limits() {
  EndpointLimits l;
  l.model_name = "tiny";
  l.max_n = 4;
  return l;
}

const json kUser = {{"role", "user"}, {"content", "hi"}};

json with(json extra) {
  json body = {{"model", "tiny"}, {"messages", {kUser}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  return body;
}

TEST(EndpointRequest, MalformedBodiesNameTheField) {
  const json assistant_call = {{"role", "assistant"},
                               {"content", nullptr},
                               {"tool_calls",
                                {{{"id", "call_0"}, {"type", "function"},
                                  {"function", {{"name", "f"}, {"arguments", "{}"}}}}}}};
  struct Case {
    std::string body;
    int status;
    std::string param;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"{not json", 400, "", "not valid JSON"},
      {"", 400, "", "not valid JSON"},
      {"[1,2]", 400, "body", "expected a JSON object, got array"},
      {"{}", 400, "messages", "missing"},
      {json{{"messages", "hi"}}.dump(), 400, "messages", "expected an array, got string"},
      {json{{"messages", json::array()}}.dump(), 400, "messages", "empty"},
      {json{{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}.dump(), 400, "messages[0].role", "unknown role \"wizard\""},
      {json{{"messages", {{{"content", "x"}}}}}.dump(), 400, "messages[0].role", "missing"},
      {json{{"messages", {42}}}.dump(), 400, "messages[0]", "expected an object, got integer"},
      {json{{"messages", {{{"role", "user"}, {"content", 5}}}}}.dump(), 400, "messages[0].content", "got integer"},
      {json{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}.dump(), 400,
       "messages[0].content[0].type", "only \"text\" parts"},
      {json{{"messages", {kUser, assistant_call, {{"role", "tool"}, {"tool_call_id", "call_9"}, {"content", "r"}}}}}.dump(),
       400, "messages[2].tool_call_id", "\"call_9\" matches no tool call of messages[1]"},
      {json{{"messages", {kUser, {{"role", "tool"}, {"tool_call_id", "call_0"}, {"content", "r"}}}}}.dump(), 400,
       "messages[1]", "must follow an assistant message with tool_calls"},
      {json{{"messages", {kUser, assistant_call, {{"role", "tool"}, {"content", "r"}}}}}.dump(), 400,
       "messages[2].tool_call_id", "missing"},
      {json{{"messages", {kUser, {{"role", "assistant"}, {"tool_calls", {{{"id", "c"}, {"function", {{"name", 7}}}}}}}}}}.dump(),
       400, "messages[1].tool_calls[0].function.name", "expected a string, got integer"},
      {json{{"messages", {kUser, {{"role", "assistant"}, {"tool_calls", {{{"function", {{"name", "f"}}}}}}}}}}.dump(), 400,
       "messages[1].tool_calls[0].id", "missing"},
      {json{{"messages", {{{"role", "user"}, {"content", "x"}, {"tool_calls", json::array()}}}}}.dump(), 400,
       "messages[0].tool_calls", "only assistant messages"},
      {with({{"model", "gpt-9"}}).dump(), 404, "model", "`gpt-9` does not exist"},
      {with({{"model", 3}}).dump(), 400, "model", "expected a string"},
      {with({{"temperature", "hot"}}).dump(), 400, "temperature", "expected a number, got string"},
      {with({{"temperature", 7}}).dump(), 400, "temperature", "at most 2"},
      {with({{"top_p", 0}}).dump(), 400, "top_p", "above 0"},
      {with({{"max_tokens", 0}}).dump(), 400, "max_tokens", "from 1"},
      {with({{"max_completion_tokens", 1.5}}).dump(), 400, "max_completion_tokens", "expected an integer"},
      {with({{"seed", "x"}}).dump(), 400, "seed", "expected an integer"},
      {with({{"stop", {1}}}).dump(), 400, "stop[0]", "expected a string"},
      {with({{"stop", ""}}).dump(), 400, "stop", "empty stop string"},
      {with({{"n", 5}}).dump(), 400, "n", "at most 4 choices"},
      {with({{"n", 0}}).dump(), 400, "n", "from 1"},
      {with({{"stream", "yes"}}).dump(), 400, "stream", "expected a boolean"},
      {with({{"stream_options", {{"include_usage", 1}}}}).dump(), 400, "stream_options.include_usage", "expected a boolean"},
      {with({{"tools", {{{"type", "retrieval"}}}}}).dump(), 400, "tools[0].type", "expected \"function\""},
      {with({{"tools", {{{"type", "function"}, {"function", {{"description", "d"}}}}}}}).dump(), 400,
       "tools[0].function.name", "missing"},
      {with({{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", "x"}}}}}}}).dump(), 400,
       "tools[0].function.parameters", "expected an object"},
      {with({{"tool_choice", "required"}}).dump(), 400, "tool_choice", "\"required\" needs tools"},
      {with({{"tool_choice", "always"}}).dump(), 400, "tool_choice", "expected \"auto\", \"none\", \"required\""},
      {with({{"tool_choice", 3}}).dump(), 400, "tool_choice", "a string or an object"},
      {with({{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}).dump(), 400,
       "tool_choice.function.name", "not one of the request's tools"},
      {with({{"tool_choice", {{"type", "retrieval"}}}}).dump(), 400, "tool_choice.type", "expected \"function\""},
      {with({{"tool_choice", {{"type", "function"}}}}).dump(), 400, "tool_choice.function", "missing"},
      {with({{"tool_choice", {{"type", "function"}, {"function", {{"name", ""}}}}}}).dump(), 400,
       "tool_choice.function.name", "missing"},
      {with({{"logprobs", "yes"}}).dump(), 400, "logprobs", "expected a boolean"},
      {with({{"top_logprobs", 2}}).dump(), 400, "top_logprobs", "needs \"logprobs\": true"},
      {with({{"logprobs", true}, {"top_logprobs", 21}}).dump(), 400, "top_logprobs", "at most 20"},
      {with({{"logprobs", true}, {"top_logprobs", -1}}).dump(), 400, "top_logprobs", "from 0 to 20"},
      {with({{"logprobs", true}, {"top_logprobs", 1.5}}).dump(), 400, "top_logprobs", "an integer"},
      {with({{"response_format", {{"type", "json_schema"}}}}).dump(), 400, "response_format.type", "only \"text\""},
      {with({{"chat_template_kwargs", {{"thinking", "yes"}}}}).dump(), 400, "chat_template_kwargs.thinking",
       "expected a boolean"},
      {with({{"thinking", {{"type", "maybe"}}}}).dump(), 400, "thinking.type", "\"enabled\" or \"disabled\""},
      {with({{"reasoning_effort", "extreme"}}).dump(), 400, "reasoning_effort", "expected \"none\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    try {
      parse_endpoint_request(c.body, limits());
      ADD_FAILURE() << "accepted";
    } catch (const EndpointError& e) {
      EXPECT_EQ(e.status(), c.status);
      EXPECT_EQ(e.param(), c.param);
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
      const json j = e.to_json();
      EXPECT_EQ(j["error"]["message"], e.what());
      EXPECT_TRUE(j["error"]["type"].is_string());
      EXPECT_TRUE(j["error"].contains("param"));
      EXPECT_TRUE(j["error"].contains("code"));
    }
  }
}

TEST(EndpointRequest, AFullRequestIsRead) {
  const json body = {
      {"model", "tiny"},
      {"messages",
       {{{"role", "system"}, {"content", {{{"type", "text"}, {"text", "Be "}}, {{"type", "text"}, {"text", "brief."}}}}},
        kUser,
        {{"role", "assistant"},
         {"content", nullptr},
         {"reasoning_content", "need data"},
         {"tool_calls",
          {{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{\"a\": 1}"}}}}}}},
        {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "42"}}}},
      {"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}}},
      {"tool_choice", "auto"},
      {"max_completion_tokens", 7},
      {"max_tokens", 99},
      {"temperature", 0.5},
      {"top_p", 0.9},
      {"seed", 3},
      {"stop", "END"},
      {"n", 2},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
      {"logprobs", true},
      {"top_logprobs", 5},
      {"chat_template_kwargs", {{"thinking", true}}},
      {"presence_penalty", 0},  // unknown or unused fields are ignored
      {"user", "someone"},
      {"frobnicate", {1, 2, 3}}};
  EndpointRequest r = parse_endpoint_request(body.dump(), limits());
  ASSERT_EQ(r.chat.messages.size(), 4u);
  EXPECT_EQ(r.chat.messages[0].content, "Be brief.");
  EXPECT_EQ(r.chat.messages[2].reasoning, "need data");
  ASSERT_EQ(r.chat.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(r.chat.messages[2].tool_calls[0].arguments, (json{{"a", 1}}));
  EXPECT_EQ(r.chat.messages[3].tool_call_id, "c1");
  EXPECT_EQ(r.chat.tools.size(), 1u);
  EXPECT_EQ(r.chat.sampling.max_tokens, 7);  // max_completion_tokens wins
  EXPECT_EQ(r.chat.sampling.temperature, 0.5);
  EXPECT_EQ(r.chat.sampling.seed, 3);
  EXPECT_EQ(r.chat.sampling.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.top_logprobs, 5);
  EXPECT_EQ(parse_endpoint_request(with({{"logprobs", true}}).dump(), limits()).top_logprobs, 0);
  EXPECT_EQ(parse_endpoint_request(with({{"logprobs", false}}).dump(), limits()).top_logprobs, -1);
  EXPECT_EQ(parse_endpoint_request(with({}).dump(), limits()).top_logprobs, -1);
  const json tools = {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}};
  const json named = {{"type", "function"}, {"function", {{"name", "f"}}}};
  EXPECT_EQ(parse_endpoint_request(with({{"tools", tools}, {"tool_choice", named}}).dump(), limits()).chat.tool_choice,
            named);
  EXPECT_EQ(parse_endpoint_request(with({{"tools", tools}, {"tool_choice", "required"}}).dump(), limits()).chat.tool_choice,
            "required");
  EXPECT_TRUE(r.chat.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.mode, model::text::ThinkingMode::kThinking);

  // tool_choice "none": the model is not offered the tools. No model named: the served one.
  json none = body;
  none["tool_choice"] = "none";
  none.erase("model");
  none["thinking"] = {{"type", "disabled"}};
  r = parse_endpoint_request(none.dump(), limits());
  EXPECT_TRUE(r.chat.tools.empty());
  EXPECT_EQ(r.mode, model::text::ThinkingMode::kChat);
  EXPECT_EQ(parse_endpoint_request(with({{"reasoning_effort", "high"}}).dump(), limits()).mode,
            model::text::ThinkingMode::kThinking);
  EXPECT_EQ(parse_endpoint_request(with({{"reasoning_effort", "none"}}).dump(), limits()).mode,
            model::text::ThinkingMode::kChat);
}

}  // namespace
}  // namespace envforge::server
