// The streamed deltas of a completion put together are exactly its final reply, whatever the
// reply holds (reasoning, </think>, tool calls, stop strings) and however it is cut.
#include <gtest/gtest.h>

#include "agents/embedded_stream.h"
#include "model/text/tokenizer.h"
#include "tests/endpoint/endpoint_fixture.h"

namespace envforge::testing {
namespace {

using agents::StreamEvent;
using model::text::ThinkingMode;

struct Case {
  std::string generated;  // what the model writes
  ThinkingMode mode;
  bool ended;             // it stopped at the end-of-sentence token
  std::vector<std::string> stops;
};

TEST(CompletionStreamer, DeltasPutTogetherAreTheFinalReply) {
  const auto tok = model::text::Tokenizer::from_file(kTinyModel + "/tokenizer.json");
  const std::string calls =
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "<｜DSML｜parameter name=\"a\" string=\"false\">1</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>";
  const std::vector<Case> cases = {
      {"Hello there.", ThinkingMode::kChat, true, {}},
      {"Cut sho", ThinkingMode::kChat, false, {}},
      {"Let me see.</think>The answer is 4.", ThinkingMode::kThinking, true, {}},
      {"Still thinking </thi", ThinkingMode::kThinking, false, {}},
      {"Plan.</think>Calling." + calls, ThinkingMode::kThinking, true, {}},
      {"Calling." + calls, ThinkingMode::kChat, true, {}},
      {"Broken call\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke nme=", ThinkingMode::kChat, false, {}},
      {"a </think> inside chat mode stays content", ThinkingMode::kChat, true, {}},
      {"one two STOP three", ThinkingMode::kChat, true, {"STOP"}},
      {"think STO</think>answer ST then STOP more", ThinkingMode::kThinking, true, {"STOP", "xyz"}},
      {"\n\n\n<\n\n<｜DSML｜", ThinkingMode::kChat, false, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.generated);
    const std::vector<int32_t> ids = tok.encode(c.generated);
    agents::CompletionStreamer streamer(tok, c.mode, c.stops);
    std::string reasoning, content;
    auto take = [&](const std::vector<StreamEvent>& events) {
      for (const StreamEvent& ev : events) {
        if (ev.kind == StreamEvent::Kind::kReasoning) reasoning += ev.text;
        if (ev.kind == StreamEvent::Kind::kContent) content += ev.text;
      }
    };
    // As the engine does: a token that completes a stop string is not handed out, and the
    // text is cut before the stop string.
    std::vector<int32_t> kept;
    std::string text;
    bool stopped = false;
    for (int32_t id : ids) {
      std::vector<int32_t> next = kept;
      next.push_back(id);
      const std::string decoded = tok.decode(next);
      for (const std::string& s : c.stops)
        if (const auto at = decoded.find(s); at != std::string::npos && !stopped) {
          text = decoded.substr(0, at);
          stopped = true;
        }
      if (stopped) break;
      kept = next;
      take(streamer.push(id));
    }
    if (!stopped) text = tok.decode(kept);
    const model::ChatMessage final = agents::completion_message(text, c.ended || stopped, c.mode);
    int calls_seen = 0;
    for (const StreamEvent& ev : streamer.finish(final)) {
      if (ev.kind == StreamEvent::Kind::kToolCall) {
        EXPECT_EQ(ev.tool_name, final.tool_calls.at(calls_seen).name);
        EXPECT_EQ(ev.tool_id, final.tool_calls.at(calls_seen).id);
        ++calls_seen;
      }
      take({ev});
    }
    EXPECT_EQ(calls_seen, static_cast<int>(final.tool_calls.size()));
    EXPECT_EQ(reasoning, final.reasoning);
    EXPECT_EQ(content, final.content);
  }
}

TEST(CompletionStreamer, TheFinalReplyOfWellFormedAndMalformedOutput) {
  auto m = agents::completion_message("Plan.</think>Done.", true, ThinkingMode::kThinking);
  EXPECT_EQ(m.reasoning, "Plan.");
  EXPECT_EQ(m.content, "Done.");
  // Cut while reasoning: it is reasoning, not content.
  m = agents::completion_message("still reasoning", false, ThinkingMode::kThinking);
  EXPECT_EQ(m.reasoning, "still reasoning");
  EXPECT_EQ(m.content, "");
  // A malformed tool-call block stays text in the content.
  m = agents::completion_message("x\n\n<｜DSML｜function_calls>\n<｜DSML｜oops", false, ThinkingMode::kChat);
  EXPECT_EQ(m.content, "x\n\n<｜DSML｜function_calls>\n<｜DSML｜oops");
  EXPECT_TRUE(m.tool_calls.empty());
}

}  // namespace
}  // namespace envforge::testing
