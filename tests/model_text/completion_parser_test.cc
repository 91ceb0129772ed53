// Parsing completions (reasoning, content, DSML tool calls) against DeepSeek's
// parse_message_from_completion_text outputs, round trips through the encoder,
// and the errors malformed tool calls get.
#include <gtest/gtest.h>


#include <nlohmann/json.hpp>

#include "model/text/chat_encoding.h"
#include "model/text/completion_parser.h"
#include "tests/model_text/chat_helpers.h"
#include "tests/model_text/test_paths.h"

namespace envforge::model::text {
namespace {

using ojson = nlohmann::ordered_json;

ThinkingMode mode_of(const ojson& c) {
  return c["thinking_mode"] == "thinking" ? ThinkingMode::kThinking : ThinkingMode::kChat;
}

TEST(CompletionParser, EveryFixtureParsesLikeTheReference) {
  const ojson doc = testing::load_chat_fixtures();
  ASSERT_GE(doc["parse"].size(), 15u);
  for (const auto& c : doc["parse"]) {
    const std::string text = c["text"];
    if (c.contains("error")) {
      EXPECT_THROW(parse_completion(text, mode_of(c)), ChatFormatError)
          << "completion " << c["name"] << " (reference: " << c["error"] << ")";
      continue;
    }
    ParsedCompletion got;
    ASSERT_NO_THROW(got = parse_completion(text, mode_of(c))) << c["name"];
    const ojson& want = c["expected"];
    EXPECT_EQ(got.content, want["content"].get<std::string>()) << c["name"];
    EXPECT_EQ(got.reasoning, want["reasoning_content"].get<std::string>()) << c["name"];
    ASSERT_EQ(got.tool_calls.size(), want["tool_calls"].size()) << c["name"];
    for (std::size_t i = 0; i < got.tool_calls.size(); ++i) {
      EXPECT_EQ(got.tool_calls[i].name, want["tool_calls"][i]["function"]["name"].get<std::string>()) << c["name"];
      EXPECT_EQ(got.tool_calls[i].arguments, want["tool_calls"][i]["function"]["arguments"].get<std::string>())
          << c["name"];
    }
  }
}

// The completion the model would have produced for `answer`: what follows the
// prompt's "<｜Assistant｜><think>" (or "</think>" in chat mode).
std::string completion_for(const ChatMessage& answer, ThinkingMode mode) {
  const std::vector<ChatMessage> chat = {testing::message("user", "go"), answer};
  const std::string prompt = encode_chat(chat, {}, testing::mode_options(mode));
  const std::string marker = std::string(kAssistantToken) + std::string(mode == ThinkingMode::kThinking ? kThinkStart : kThinkEnd);
  return prompt.substr(prompt.find(marker) + marker.size());
}

TEST(CompletionParser, RoundTripsEncodedAssistantMessages) {
  ChatMessage a = testing::message("assistant", "Booked.\nSee you!", "Check dates,\nthen book.");
  a.tool_calls.push_back(testing::tool_call("book_hotel", {{"city", "São \"Paulo\"\n<centre>"},
                                                           {"nights", 3},
                                                           {"rate", 149.5},
                                                           {"guests", {"Ana", "李雷", "🙂"}},
                                                           {"prefs", {{"smoking", false}, {"floor", nullptr}}},
                                                           {"note", ""}}));
  a.tool_calls.push_back(testing::tool_call("current_time", nlohmann::json::object()));
  for (ThinkingMode mode : {ThinkingMode::kThinking, ThinkingMode::kChat}) {
    const std::string text = completion_for(a, mode);
    const ChatMessage back = parse_assistant_message(text, mode);
    EXPECT_EQ(back.role, "assistant");
    EXPECT_EQ(back.content, a.content) << text;
    EXPECT_EQ(back.reasoning, mode == ThinkingMode::kThinking ? a.reasoning : "") << text;
    ASSERT_EQ(back.tool_calls.size(), 2u) << text;
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(back.tool_calls[i].name, a.tool_calls[i].name);
      EXPECT_EQ(back.tool_calls[i].arguments, a.tool_calls[i].arguments) << back.tool_calls[i].arguments.dump();
    }
  }
  const ChatMessage plain = testing::message("assistant", "Just text.", "Easy.");
  const ChatMessage back = parse_assistant_message(completion_for(plain, ThinkingMode::kThinking), ThinkingMode::kThinking);
  EXPECT_EQ(back.content, "Just text.");
  EXPECT_EQ(back.reasoning, "Easy.");
  EXPECT_TRUE(back.tool_calls.empty());
}

std::string error_of(std::string_view text, ThinkingMode mode = ThinkingMode::kChat) {
  try {
    parse_assistant_message(text, mode);
  } catch (const ChatFormatError& e) {
    return e.what();
  }
  return "";
}

TEST(CompletionParser, MalformedToolCallsGetClearErrors) {
  const std::string open = "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n";
  const std::string close = "</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  auto param = [](const std::string& name, const std::string& flag, const std::string& value) {
    return "<｜DSML｜parameter name=\"" + name + "\" string=\"" + flag + "\">" + value + "</｜DSML｜parameter>\n";
  };
  EXPECT_NE(error_of(open + param("a", "true", "1") + param("a", "true", "2") + close).find("duplicate parameter name 'a' in tool 'f'"),
            std::string::npos);
  EXPECT_NE(error_of(open + "<｜DSML｜parameter name=\"a\">1</｜DSML｜parameter>\n" + close).find("parameter format error"),
            std::string::npos);
  EXPECT_NE(error_of(open + param("n", "false", "{broken") + close).find("arguments of tool 'f' are not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of("\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke nme=\"f\">\n" + close).find("tool name format error"),
            std::string::npos);
  EXPECT_NE(error_of(open + close + "extra").find("unexpected content at end"), std::string::npos);
  EXPECT_NE(error_of("no end").find("invalid summary format"), std::string::npos);
  EXPECT_NE(error_of("thinking forever", ThinkingMode::kThinking).find("</think>"), std::string::npos);
  const std::string e = error_of(open + param("a", "maybe", "1") + close);
  EXPECT_NE(e.find("at byte"), std::string::npos) << e;
}

TEST(CompletionParser, EndOfSentenceCanBeOptional) {
  EXPECT_THROW(parse_assistant_message("cut off", ThinkingMode::kChat), ChatFormatError);
  CompletionParseOptions lenient;
  lenient.eos_optional = true;
  const ChatMessage m = parse_assistant_message("cut off", ThinkingMode::kChat, lenient);
  EXPECT_EQ(m.content, "cut off");
  const ChatMessage t = parse_assistant_message("hmm</think>ok<｜end▁of▁sentence｜>", ThinkingMode::kThinking, lenient);
  EXPECT_EQ(t.reasoning, "hmm");
  EXPECT_EQ(t.content, "ok");
}

}  // namespace
}  // namespace envforge::model::text
