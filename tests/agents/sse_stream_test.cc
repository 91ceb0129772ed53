#include <gtest/gtest.h>

#include "agents/sse_stream.h"

namespace envforge::agents {
namespace {

TEST(SseParser, SplitsEventsWhateverTheByteBoundaries) {
  const std::string stream =
      ": comment\r\n"
      "event: message\r\n"
      "data: {\"a\":1}\r\n\r\n"
      "data: line one\n"
      "data: line two\n\n"
      "id: 7\n"
      "data:nospace\n\n"
      "data: [DONE]\n\n";
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    std::vector<std::string> events;
    SseParser p([&](const std::string& d) { events.push_back(d); });
    for (std::size_t i = 0; i < stream.size(); i += step) p.feed(std::string_view(stream).substr(i, step));
    p.finish();
    ASSERT_EQ(events.size(), 4u) << "step " << step;
    EXPECT_EQ(events[0], "{\"a\":1}");
    EXPECT_EQ(events[1], "line one\nline two");
    EXPECT_EQ(events[2], "nospace");
    EXPECT_EQ(events[3], "[DONE]");
  }
}

TEST(SseParser, DropsALastEventCutBeforeItsBlankLine) {
  // The SSE rules: at the end of the stream an unfinished event is discarded. It may have been
  // cut anywhere, even where its data still parses.
  for (const std::string cut : {"data: {\"choices\":[{\"delta\":{\"content\":\"par",
                                "data: {\"choices\":[]}", "data: {\"choices\":[]}\n", "data: [DONE]\n"}) {
    std::vector<std::string> events;
    SseParser p([&](const std::string& d) { events.push_back(d); });
    p.feed("data: whole\n\n" + cut);
    p.finish();
    ASSERT_EQ(events.size(), 1u) << cut;
    EXPECT_EQ(events[0], "whole");
    EXPECT_TRUE(p.dropped_partial()) << cut;
  }
  SseParser clean([](const std::string&) {});
  clean.feed("data: whole\n\n: keep-alive\n");
  clean.finish();
  EXPECT_FALSE(clean.dropped_partial());
}

TEST(StreamAccumulator, ToolCallsWithoutIndexAreTellApartById) {
  StreamAccumulator acc(nullptr);
  acc.add(R"({"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{\"x\""}}]}}]})");
  acc.add(R"({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]})");
  acc.add(R"({"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})");
  acc.add("[DONE]");
  EXPECT_TRUE(acc.done());
  ChatResponse r = acc.finish();
  ASSERT_EQ(r.message.tool_calls.size(), 2u);
  EXPECT_EQ(r.message.tool_calls[0].arguments, (nlohmann::json{{"x", 1}}));
  EXPECT_EQ(r.message.tool_calls[1].name, "g");
  EXPECT_EQ(r.finish_reason, "tool_calls");
}

TEST(StreamAccumulator, MalformedArgumentsAreKeptVerbatimForTheModelToFix) {
  StreamAccumulator acc(nullptr);
  acc.add(R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\": 1,"}}]},"finish_reason":"tool_calls"}]})");
  ChatResponse r = acc.finish();
  ASSERT_EQ(r.message.tool_calls.size(), 1u);
  EXPECT_TRUE(r.message.tool_calls[0].arguments.is_string());
  EXPECT_EQ(r.message.tool_calls[0].arguments.get<std::string>(), "{\"x\": 1,");
}

TEST(StreamAccumulator, ShapeErrorsNameChunkAndField) {
  StreamAccumulator acc(nullptr);
  acc.add(R"({"choices":[{"delta":{"content":"a"}}]})");
  try {
    acc.add(R"({"choices":[{"delta":{"tool_calls":[{"index":"zero"}]}}]})");
    FAIL();
  } catch (const BackendError& e) {
    EXPECT_EQ(e.kind(), BackendErrorKind::kProtocol);
    EXPECT_NE(std::string(e.what()).find("chunk 2: choices[0].delta.tool_calls[0].index"),
              std::string::npos) << e.what();
  }
  StreamAccumulator empty(nullptr);
  empty.add("[DONE]");
  EXPECT_THROW(empty.finish(), BackendError);
}

}  // namespace
}  // namespace envforge::agents
