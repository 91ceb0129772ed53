// DeepSeek-V3.2 prompt encoding against outputs of DeepSeek's own encoding
// script (fixtures/dsv32_chat.json, written by model/tools/chat_fixtures.py).
#include <gtest/gtest.h>


#include <nlohmann/json.hpp>

#include "model/text/chat_encoding.h"
#include "tests/model_text/chat_helpers.h"
#include "tests/model_text/test_paths.h"

namespace envforge::model::text {
namespace {

using ojson = nlohmann::ordered_json;

ChatEncodeOptions options_of(const ojson& c) {
  ChatEncodeOptions o;
  o.mode = c["thinking_mode"] == "thinking" ? ThinkingMode::kThinking : ThinkingMode::kChat;
  if (c.contains("drop_thinking")) o.drop_thinking = c["drop_thinking"].get<bool>();
  if (c.contains("add_default_bos_token")) o.add_bos = c["add_default_bos_token"].get<bool>();
  return o;
}

TEST(ChatEncoding, EveryFixtureConversationEncodesByteForByte) {
  const ojson doc = testing::load_chat_fixtures();
  ASSERT_GE(doc["encode"].size(), 20u);
  int checked = 0;
  for (const auto& c : doc["encode"]) {
    if (!c.contains("expected")) continue;
    const ojson context = c.value("context", ojson::array());
    std::string got;
    ASSERT_NO_THROW(got = encode_messages(c["messages"], options_of(c), context)) << c["name"];
    EXPECT_EQ(got, c["expected"].get<std::string>()) << "conversation " << c["name"];
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(ChatEncoding, RejectsWhatTheReferenceRejects) {
  const ojson doc = testing::load_chat_fixtures();
  int checked = 0;
  for (const auto& c : doc["encode"]) {
    if (!c.contains("error")) continue;
    EXPECT_THROW(encode_messages(c["messages"], options_of(c), c.value("context", ojson::array())), ChatFormatError)
        << "conversation " << c["name"] << " (reference: " << c["error"] << ")";
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

TEST(ChatEncoding, ErrorsNameTheMessage) {
  const ojson messages = ojson::parse(R"([{"role":"user","content":"hi"},{"role":"tool","content":"x"}])");
  try {
    encode_messages(messages, {});
    FAIL() << "expected an error";
  } catch (const ChatFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("message 1"), std::string::npos) << e.what();
  }
  const ojson bad_args = ojson::parse(
      R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{oops"}}]}])");
  try {
    encode_messages(bad_args, {});
    FAIL() << "expected an error";
  } catch (const ChatFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(ChatEncoding, SharedChatTypesEncodeLikeTheReferenceFormat) {
  std::vector<ChatMessage> chat;
  chat.push_back(testing::message("system", "Be brief."));
  chat.push_back(testing::message("user", "Weather in Oslo?"));
  ChatMessage call = testing::message("assistant", "", "Use the tool.");
  call.tool_calls.push_back(testing::tool_call("weather", {{"city", "Oslo"}, {"days", 2}}, "c1"));
  chat.push_back(call);
  ChatMessage result = testing::message("tool", "rain");
  result.tool_call_id = "c1";
  chat.push_back(result);
  const ToolSchema tool = {{"type", "function"},
                           {"function", {{"name", "weather"}, {"parameters", {{"type", "object"}}}}}};
  const std::string prompt = encode_chat(chat, {tool}, testing::mode_options(ThinkingMode::kThinking));

  const ojson reference = ojson::parse(R"([
    {"role":"system","content":"Be brief.","tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]},
    {"role":"user","content":"Weather in Oslo?"},
    {"role":"assistant","content":"","reasoning_content":"Use the tool.","tool_calls":[
      {"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Oslo\", \"days\": 2}"}}]},
    {"role":"tool","content":"rain","tool_call_id":"c1"}])");
  EXPECT_EQ(prompt, encode_messages(reference, testing::mode_options(ThinkingMode::kThinking)));
  EXPECT_TRUE(prompt.ends_with("</function_results>\n\n<think>")) << prompt;
  EXPECT_NE(prompt.find("Use the tool.</think>\n\n<｜DSML｜function_calls>"), std::string::npos);
}

TEST(ChatEncoding, ToolsWithoutSystemMessageGetOne) {
  const ToolSchema tool = {{"type", "function"}, {"function", {{"name", "now"}}}};
  const std::string prompt = encode_chat({testing::message("user", "time?")}, {tool}, {});
  EXPECT_TRUE(prompt.starts_with("<｜begin▁of▁sentence｜>\n\n## Tools\n\n")) << prompt;
  EXPECT_TRUE(prompt.ends_with("</functions>\n<｜User｜>time?<｜Assistant｜></think>")) << prompt;
}

}  // namespace
}  // namespace envforge::model::text
