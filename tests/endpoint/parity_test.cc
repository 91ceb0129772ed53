// The agents' OpenAI backend pointed at the endpoint gets exactly what the `embedded:` backend
// gets for the same conversation on the same checkpoint: streamed or not, in chat and thinking
// mode, with tool calls.
#include <gtest/gtest.h>

#include "tests/endpoint/endpoint_fixture.h"

namespace envforge::testing {
namespace {

using agents::ChatRequest;
using agents::ChatResponse;
using agents::StreamEvent;
using nlohmann::json;

const json kFlightsTool = json::parse(R"({"type": "function", "function": {"name": "search_flights",
    "description": "Flights between two airports on a day.",
    "parameters": {"type": "object", "properties": {"from": {"type": "string"}, "day": {"type": "integer"}}}}})");

// A conversation with a tool already called and answered.
ChatRequest tool_conversation() {
  ChatRequest r;
  r.messages.push_back(chat_msg("system", "You plan trips."));
  r.messages.push_back(chat_msg("user", "Find me a flight from PEK."));
  model::ChatMessage call = chat_msg("assistant", "");
  call.reasoning = "look up flights";
  call.tool_calls.push_back({"call_0", "search_flights", {{"from", "PEK"}, {"day", 3}}});
  r.messages.push_back(call);
  model::ChatMessage result = chat_msg("tool", "[{\"flight\":\"CA981\"}]");
  result.tool_call_id = "call_0";
  r.messages.push_back(result);
  r.tools = {kFlightsTool};
  r.tool_choice = "auto";
  r.sampling.max_tokens = 10;
  return r;
}

void expect_same_reply(const ChatResponse& want, const ChatResponse& got, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.message.role, "assistant");
  EXPECT_EQ(got.message.content, want.message.content);
  EXPECT_EQ(got.message.reasoning, want.message.reasoning);
  ASSERT_EQ(got.message.tool_calls.size(), want.message.tool_calls.size());
  for (std::size_t i = 0; i < want.message.tool_calls.size(); ++i) {
    EXPECT_EQ(got.message.tool_calls[i].id, want.message.tool_calls[i].id);
    EXPECT_EQ(got.message.tool_calls[i].name, want.message.tool_calls[i].name);
    EXPECT_EQ(got.message.tool_calls[i].arguments, want.message.tool_calls[i].arguments);
  }
  EXPECT_EQ(got.finish_reason, want.finish_reason);
  EXPECT_TRUE(got.usage.reported);
  EXPECT_EQ(got.usage.prompt_tokens, want.usage.prompt_tokens);
  EXPECT_EQ(got.usage.completion_tokens, want.usage.completion_tokens);
}

struct Streamed {
  std::string content, reasoning;
  std::map<int, std::string> arguments;
  agents::StreamCallback callback() {
    return [this](const StreamEvent& ev) {
      if (ev.kind == StreamEvent::Kind::kContent) content += ev.text;
      if (ev.kind == StreamEvent::Kind::kReasoning) reasoning += ev.text;
      if (ev.kind == StreamEvent::Kind::kToolCall) arguments[ev.tool_index] += ev.text;
    };
  }
};

// Asks the embedded backend and the endpoint (plain, then streamed) and compares.
void check_parity(agents::EmbeddedBackend& embedded, agents::Backend& client, ChatRequest req,
                  const std::string& what) {
  req.stream = false;
  const ChatResponse want = embedded.chat(req);
  expect_same_reply(want, client.chat(req), what + ", not streamed");
  req.stream = true;
  Streamed s;
  const ChatResponse streamed = client.chat(req, s.callback());
  expect_same_reply(want, streamed, what + ", streamed");
  EXPECT_EQ(s.content, want.message.content) << what;
  EXPECT_EQ(s.reasoning, want.message.reasoning) << what;
  for (std::size_t i = 0; i < want.message.tool_calls.size(); ++i)
    EXPECT_EQ(json::parse(s.arguments[static_cast<int>(i)]), want.message.tool_calls[i].arguments) << what;
}

TEST(EndpointParity, GreedyRepliesEqualTheEmbeddedBackendsStreamedOrNot) {
  agents::EmbeddedBackend backend(tiny_options(kToolModel));
  RunningEndpoint ep(backend);
  agents::OpenAIBackend client(ep.client_options());
  check_parity(backend, client, tool_conversation(), "a conversation with a tool result");
  ChatRequest plain;
  plain.messages = {chat_msg("user", "Say hi.")};
  plain.sampling.max_tokens = 6;
  check_parity(backend, client, plain, "one user message, cut by max_tokens");
  // Seeded sampling gives the same draw too.
  plain.sampling.temperature = 0.9;
  plain.sampling.top_p = 0.9;
  plain.sampling.seed = 1234;
  check_parity(backend, client, plain, "seeded sampling");
}

TEST(EndpointParity, ThinkingModeAskedForByTheRequestEqualsAThinkingEmbeddedBackend) {
  agents::EmbeddedBackend chat_backend(tiny_options());
  agents::EmbeddedOptions thinking = tiny_options();
  thinking.mode = model::text::ThinkingMode::kThinking;
  agents::EmbeddedBackend thinking_backend(thinking);
  RunningEndpoint ep(chat_backend);  // chat by default; the request asks for thinking
  for (const json& extra : {json{{"chat_template_kwargs", {{"thinking", true}}}},
                            json{{"thinking", {{"type", "enabled"}}}}}) {
    agents::OpenAIOptions o = ep.client_options();
    o.extra_body = extra;
    agents::OpenAIBackend client(o);
    ChatRequest req = tool_conversation();
    req.tools.clear();  // a short prompt; the tool turn's reasoning still travels back
    req.tool_choice = nullptr;
    // The tiny model never closes its reasoning: the whole reply is reasoning, cut by length.
    const ChatResponse want = thinking_backend.chat(req);
    EXPECT_FALSE(want.message.reasoning.empty());
    EXPECT_EQ(want.finish_reason, "length");
    check_parity(thinking_backend, client, req, "thinking via " + extra.dump());
  }
}

const std::string kCallText =
    "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"search_flights\">\n"
    "<｜DSML｜parameter name=\"from\" string=\"true\">PEK</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"day\" string=\"false\">3</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜function_calls>";

TEST(EndpointParity, ToolCallsComeBackAsTheEmbeddedBackendParsesThem) {
  agents::EmbeddedBackend backend(scripted_options("Checking flights." + kCallText));
  RunningEndpoint ep(backend);
  agents::OpenAIBackend client(ep.client_options());
  ChatRequest req = tool_conversation();
  req.messages.resize(2);  // the model is about to call the tool
  req.sampling.max_tokens = 400;
  const ChatResponse want = backend.chat(req);
  ASSERT_EQ(want.message.tool_calls.size(), 1u) << want.message.content;
  EXPECT_EQ(want.message.tool_calls[0].arguments, (json{{"from", "PEK"}, {"day", 3}}));
  EXPECT_EQ(want.message.content, "Checking flights.");
  EXPECT_EQ(want.finish_reason, "tool_calls");
  check_parity(backend, client, req, "a tool call");
}

TEST(EndpointParity, ReasoningThenAToolCallInThinkingMode) {
  agents::EmbeddedOptions o = scripted_options("The user wants flights.</think>On it." + kCallText);
  o.mode = model::text::ThinkingMode::kThinking;
  agents::EmbeddedBackend backend(o);
  server::EndpointOptions eo;
  eo.limits.default_mode = model::text::ThinkingMode::kThinking;  // the endpoint's --thinking
  RunningEndpoint ep(backend, eo);
  agents::OpenAIBackend client(ep.client_options());
  ChatRequest req = tool_conversation();
  req.messages.resize(2);
  req.sampling.max_tokens = 400;
  const ChatResponse want = backend.chat(req);
  EXPECT_EQ(want.message.reasoning, "The user wants flights.");
  EXPECT_EQ(want.message.content, "On it.");
  ASSERT_EQ(want.message.tool_calls.size(), 1u);
  check_parity(backend, client, req, "reasoning, content and a tool call");
}

TEST(EndpointParity, ToolChoiceRequiredOrNamedMakesTheReplyCallATool) {
  agents::EmbeddedBackend backend(scripted_options(kCallText));
  RunningEndpoint ep(backend);
  agents::OpenAIBackend client(ep.client_options());
  ChatRequest req = tool_conversation();
  req.messages.resize(2);
  req.sampling.max_tokens = 400;
  for (const json& choice : {json("required"), json{{"type", "function"}, {"function", {{"name", "search_flights"}}}}}) {
    req.tool_choice = choice;
    const ChatResponse want = backend.chat(req);
    ASSERT_EQ(want.message.tool_calls.size(), 1u) << choice.dump() << ": " << want.message.content;
    EXPECT_EQ(want.message.tool_calls[0].name, "search_flights");
    EXPECT_EQ(want.message.tool_calls[0].arguments, (json{{"from", "PEK"}, {"day", 3}}));
    EXPECT_EQ(want.finish_reason, "tool_calls");
    check_parity(backend, client, req, "tool_choice " + choice.dump());
  }
  // A function the request does not offer, or "required" without tools: refused.
  req.tool_choice = {{"type", "function"}, {"function", {{"name", "book_hotel"}}}};
  EXPECT_THROW(backend.chat(req), agents::BackendError);
  req.tool_choice = "required";
  req.tools.clear();
  EXPECT_THROW(backend.chat(req), agents::BackendError);
}

TEST(EndpointParity, ANamedToolChoiceIsWrittenEvenForAModelAboutToAnswerInProse) {
  agents::EmbeddedBackend backend(scripted_options("No need for tools."));
  ChatRequest req = tool_conversation();
  req.messages.resize(2);
  req.sampling.max_tokens = 400;
  const ChatResponse free = backend.chat(req);
  EXPECT_EQ(free.message.content, "No need for tools.");
  req.tool_choice = {{"type", "function"}, {"function", {{"name", "search_flights"}}}};
  const ChatResponse forced = backend.chat(req);
  // The opening is the model's from the first token; this model then writes its prose inside
  // the call, which never closes: the reply comes back as text starting with the call.
  EXPECT_NE(forced.message.content.find("<｜DSML｜invoke name=\"search_flights\">\nNo need for tools."),
            std::string::npos)
      << forced.message.content;
}

TEST(EndpointParity, ToolChoiceInThinkingModeForcesTheCallOnlyAfterTheReasoning) {
  // A model that reasons, then would answer in prose; with "required", the call's opening
  // follows </think>, and this model then writes its call.
  agents::EmbeddedOptions o = scripted_options("The user wants flights.</think>" + kCallText);
  o.mode = model::text::ThinkingMode::kThinking;
  agents::EmbeddedBackend backend(o);
  server::EndpointOptions eo;
  eo.limits.default_mode = model::text::ThinkingMode::kThinking;
  RunningEndpoint ep(backend, eo);
  agents::OpenAIBackend client(ep.client_options());
  ChatRequest req = tool_conversation();
  req.messages.resize(2);
  req.sampling.max_tokens = 400;
  req.tool_choice = "required";
  const ChatResponse want = backend.chat(req);
  EXPECT_EQ(want.message.reasoning, "The user wants flights.");
  EXPECT_EQ(want.message.content, "");
  ASSERT_EQ(want.message.tool_calls.size(), 1u);
  EXPECT_EQ(want.message.tool_calls[0].name, "search_flights");
  check_parity(backend, client, req, "required after reasoning");
}

}  // namespace
}  // namespace envforge::testing
