// How a trajectory is stored: every large value once (a 2 MB reply is not repeated in the
// turns and the final answer), pointers that lead back to it, valid UTF-8 whatever a tool
// printed, and arguments nested past any schema kept as text the model is told about.
#include <gtest/gtest.h>

#include "agents/agent_loop.h"
#include "agents/scripted_backend.h"
#include "model/text/utf8.h"
#include "tests/agents/tool_call_json.h"

namespace envforge::agents {
namespace {

using nlohmann::json;

json storage_tool(const std::string& name, json properties) {
  return {{"type", "function"},
          {"function", {{"name", name}, {"description", name},
                        {"parameters", {{"type", "object"}, {"properties", std::move(properties)}}}}}};
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

TEST(TrajectoryStorage, ALargeAnswerToolCallIsStoredOnceAndTheOtherPlacesPointToIt) {
  const std::string big = "B" + std::string(2 << 20, 'x') + "E";
  FunctionToolExecutor tools;
  tools.add("echo", [](const json& a) -> json { return a.at("text"); });
  AgentConfig config;
  config.tools = {storage_tool("echo", {{"text", {{"type", "string"}}}}),
                  storage_tool("submit", {{"answer", {{"type", "string"}}}})};
  config.final_answer_tool = "submit";
  config.max_tool_result_chars = 1 << 22;
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("e", "echo", {{"text", big}})}}},
       {{"tool_calls", {testing::tool_call("s", "submit", {{"answer", big}})}}}}}});
  Trajectory t = run_agent(backend, tools, config, "x");
  ASSERT_EQ(t.stop_reason, StopReason::kFinalAnswer) << t.error;
  const json j = t.to_json();
  const std::string text = j.dump();
  // The echo call's arguments, its result and the submitted answer: each in its message only.
  EXPECT_EQ(occurrences(text, big), 3u);
  EXPECT_LT(text.size(), 4 * big.size());
  EXPECT_TRUE(j["final_answer"].is_null());
  const json& answer = j.at(json::json_pointer(j["final_answer_ref"].get<std::string>()));
  EXPECT_EQ(answer, (json{{"answer", big}}));
  const json& echo = j["turns"][0]["tool_calls"][0];
  EXPECT_FALSE(echo.contains("arguments"));
  EXPECT_EQ(j.at(json::json_pointer(echo["arguments_ref"].get<std::string>())), (json{{"text", big}}));
  EXPECT_EQ(j.at(json::json_pointer(echo["result_ref"].get<std::string>())), big);
  const json& submit = j["turns"][1]["tool_calls"][0];
  EXPECT_EQ(j.at(json::json_pointer(submit["arguments_ref"].get<std::string>())), (json{{"answer", big}}));
  // Small values stay inline, as before.
  Trajectory small = run_agent(*std::make_unique<ScriptedBackend>(json{{"replies",
      {{{"tool_calls", {testing::tool_call("s", "submit", {{"answer", "42"}})}}}}}}), tools, config, "x");
  const json sj = small.to_json();
  EXPECT_EQ(sj["final_answer"], (json{{"answer", "42"}}));
  EXPECT_FALSE(sj.contains("final_answer_ref"));
  EXPECT_EQ(sj["turns"][0]["tool_calls"][0]["arguments"], (json{{"answer", "42"}}));
}

TEST(TrajectoryStorage, ALargeTextAnswerIsStoredOnce) {
  const std::string big(3 << 20, 'y');
  FunctionToolExecutor tools;
  AgentConfig config;
  ScriptedBackend backend(json{{"replies", {{{"content", big}}}}});
  const json j = run_agent(backend, tools, config, "x").to_json();
  EXPECT_EQ(occurrences(j.dump(), big), 1u);
  EXPECT_EQ(j.at(json::json_pointer(j["final_answer_ref"].get<std::string>())), big);
}

TEST(TrajectoryStorage, ToolOutputThatIsNotUtf8IsReplacedAndArgumentsNestedTooDeepAreMalformed) {
  FunctionToolExecutor tools;
  tools.add("noisy", [](const json&) -> json { throw std::runtime_error("cut \xe4\xb8 off \xff"); });
  tools.add("deep", [](const json&) -> json { return "never called"; });
  AgentConfig config;
  config.tools = {storage_tool("noisy", json::object()), storage_tool("deep", json::object())};
  const std::string nested = "{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("n", "noisy", json::object())}}},
       {{"tool_calls", {{{"id", "d"}, {"name", "deep"}, {"arguments", nested}}}}},
       {{"content", "done"}}}}});
  Trajectory t = run_agent(backend, tools, config, "x");
  ASSERT_EQ(t.stop_reason, StopReason::kFinalAnswer) << t.error;
  const std::string text = t.to_json().dump();  // throws on ill-formed UTF-8
  EXPECT_TRUE(model::text::is_valid_utf8(text));
  ASSERT_EQ(t.turns.size(), 3u);
  const ToolExecution& deep = t.turns[1].tools.at(0);
  EXPECT_FALSE(deep.ok);
  EXPECT_NE(deep.error.find("nest deeper than"), std::string::npos) << deep.error;
}

}  // namespace
}  // namespace envforge::agents
