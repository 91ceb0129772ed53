// The agent loop on the scripted backend with in-process tools.
#include <thread>

#include <gtest/gtest.h>

#include "agents/agent_loop.h"
#include "agents/scripted_backend.h"
#include "tests/agents/tool_call_json.h"

namespace envforge::agents {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

json tool(const std::string& name, json properties, json required) {
  return {{"type", "function"},
          {"function",
           {{"name", name},
            {"description", name},
            {"parameters",
             {{"type", "object"}, {"properties", properties}, {"required", required},
              {"additionalProperties", false}}}}}};
}

struct AgentLoopTest : ::testing::Test {
  FunctionToolExecutor tools;
  AgentConfig config;
  std::vector<json> calls_seen;
  void SetUp() override {
    tools.add("get_price", [this](const json& a) -> json {
      calls_seen.push_back(a);
      static const std::map<std::string, int> prices = {{"apple", 3}, {"pear", 5}};
      auto it = prices.find(a.at("item").get<std::string>());
      if (it == prices.end()) return {{"error", "no such item: " + a.at("item").get<std::string>()}};
      return {{"item", a.at("item")}, {"price", it->second}};
    });
    tools.add("multiply", [](const json& a) -> json {
      return a.at("a").get<double>() * a.at("b").get<double>();
    });
    tools.add("explode", [](const json&) -> json { throw std::runtime_error("division by zero in tool"); });
    config.system_prompt = "You are a shop assistant.";
    config.tools = {tool("get_price", {{"item", {{"type", "string"}}}}, {"item"}),
                    tool("multiply", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}, {"a", "b"}),
                    tool("explode", json::object(), json::array())};
    config.budget.max_turns = 8;
  }
};

TEST_F(AgentLoopTest, SolvesATaskThroughToolCallsAndRecordsEverything) {
  ScriptedBackend backend(json{{"replies",
      {{{"reasoning", "look up the price"},
        {"tool_calls", {testing::tool_call("c1", "get_price", {{"item", "apple"}})}},
        {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 20}}}},
       {{"tool_calls", {testing::tool_call("c2", "multiply", {{"a", 3}, {"b", 4}}),
                        testing::tool_call("c3", "get_price", {{"item", "plum"}})}},
        {"usage", {{"prompt_tokens", 150}, {"completion_tokens", 30}}}},
       {{"content", "Four apples cost 12."},
        {"usage", {{"prompt_tokens", 220}, {"completion_tokens", 8}}}}}}});
  Trajectory t = run_agent(backend, tools, config, "What do four apples cost?");
  EXPECT_EQ(t.stop_reason, StopReason::kFinalAnswer) << t.error;
  ASSERT_TRUE(t.final_answer);
  EXPECT_EQ(*t.final_answer, "Four apples cost 12.");
  EXPECT_EQ(t.turns.size(), 3u);
  EXPECT_EQ(t.tool_calls, 3);
  EXPECT_EQ(t.tool_errors, 1);  // the plum: the tool's own {"error": ...}
  EXPECT_EQ(t.prompt_tokens, 470);
  EXPECT_EQ(t.completion_tokens, 58);
  EXPECT_FALSE(t.tokens_estimated);
  std::vector<std::string> roles;
  for (const auto& m : t.messages) roles.push_back(m.role);
  EXPECT_EQ(roles, (std::vector<std::string>{"system", "user", "assistant", "tool", "assistant",
                                             "tool", "tool", "assistant"}));
  EXPECT_EQ(t.messages[3].tool_call_id, "c1");
  EXPECT_EQ(json::parse(t.messages[3].content), (json{{"item", "apple"}, {"price", 3}}));
  EXPECT_EQ(t.messages[5].content, "12.0");
  EXPECT_EQ(t.messages[6].tool_call_id, "c3");
  ASSERT_EQ(calls_seen.size(), 2u);
  EXPECT_EQ(calls_seen[0], (json{{"item", "apple"}}));

  // The model saw the tool results: the third request carries all of them, and the tools.
  auto reqs = backend.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].messages.size(), 2u);
  EXPECT_EQ(reqs[2].messages.size(), 7u);
  EXPECT_EQ(reqs[2].messages[5].content, "12.0");
  EXPECT_EQ(reqs[2].tools.size(), 3u);
  EXPECT_EQ(reqs[2].tool_choice, "auto");
  EXPECT_EQ(reqs[1].messages[2].reasoning, "look up the price");

  json j = t.to_json();
  EXPECT_EQ(j["stop_reason"], "final_answer");
  EXPECT_EQ(j["final_answer"], "Four apples cost 12.");
  EXPECT_EQ(j["messages"].size(), 8u);
  EXPECT_EQ(j["turns"][1]["tool_calls"].size(), 2u);
  EXPECT_EQ(j["turns"][1]["tool_calls"][0]["result"], 12.0);
  EXPECT_EQ(j["turns"][0]["completion_tokens"], 20);
  EXPECT_EQ(j["totals"]["tool_calls"], 3);
  EXPECT_EQ(j["backend"], "scripted:script");
  EXPECT_GE(j["totals"]["wall_ms"].get<double>(), 0.0);
}

TEST_F(AgentLoopTest, TheModelsMistakesComeBackAsToolErrors) {
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls",
         {testing::tool_call("a", "get_price", "{\"item\": \"apple\""),  // cut-off JSON
          testing::tool_call("b", "get_prices", {{"item", "apple"}}),    // unknown tool
          testing::tool_call("c", "get_price", json::object()),          // missing argument
          testing::tool_call("d", "get_price", {{"item", 7}}),           // wrong type
          testing::tool_call("e", "get_price", {{"item", "apple"}, {"qty", 2}}),  // extra argument
          testing::tool_call("f", "explode", json::object())}}},         // the tool raises
       {{"content", "sorry"}}}}});
  Trajectory t = run_agent(backend, tools, config, "price?");
  EXPECT_EQ(t.stop_reason, StopReason::kFinalAnswer);
  EXPECT_EQ(t.tool_calls, 6);
  EXPECT_EQ(t.tool_errors, 6);
  EXPECT_TRUE(calls_seen.empty());  // nothing bad reached the tool
  auto second = backend.requests().at(1).messages;
  ASSERT_EQ(second.size(), 9u);
  auto error_of = [&](int i) { return json::parse(second[3 + i].content).at("error").get<std::string>(); };
  EXPECT_NE(error_of(0).find("arguments are not valid JSON"), std::string::npos) << error_of(0);
  EXPECT_NE(error_of(1).find("unknown tool \"get_prices\"; available tools: explode, get_price, multiply"),
            std::string::npos) << error_of(1);
  EXPECT_NE(error_of(2).find("missing required argument \"item\""), std::string::npos) << error_of(2);
  EXPECT_NE(error_of(3).find("argument \"item\": expected string, got integer"), std::string::npos) << error_of(3);
  EXPECT_NE(error_of(4).find("unknown argument \"qty\" (known: item)"), std::string::npos) << error_of(4);
  EXPECT_NE(error_of(5).find("division by zero in tool"), std::string::npos) << error_of(5);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(second[3 + i].role, "tool");
}

TEST_F(AgentLoopTest, StopsAtTheTurnBudget) {
  ScriptedBackend backend(json{{"repeat", true},
      {"replies", {{{"tool_calls", {testing::tool_call("x", "get_price", {{"item", "pear"}})}}}}}});
  config.budget.max_turns = 4;
  Trajectory t = run_agent(backend, tools, config, "loop forever");
  EXPECT_EQ(t.stop_reason, StopReason::kMaxTurns);
  EXPECT_FALSE(t.final_answer);
  EXPECT_EQ(backend.requests().size(), 4u);
  EXPECT_EQ(t.tool_calls, 4);
  EXPECT_EQ(t.to_json()["stop_reason"], "max_turns");
}

TEST_F(AgentLoopTest, StopsAtTheTokenBudgetAndNeverAsksForMore) {
  ScriptedBackend backend(json{{"repeat", true},
      {"replies", {{{"tool_calls", {testing::tool_call("x", "get_price", {{"item", "pear"}})}},
                    {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 100}}}}}}});
  config.budget.max_completion_tokens = 250;
  config.sampling.max_tokens = 120;
  Trajectory t = run_agent(backend, tools, config, "spend tokens");
  EXPECT_EQ(t.stop_reason, StopReason::kTokenBudget) << t.error;
  EXPECT_EQ(t.completion_tokens, 300);
  auto reqs = backend.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(*reqs[0].sampling.max_tokens, 120);
  EXPECT_EQ(*reqs[1].sampling.max_tokens, 120);
  EXPECT_EQ(*reqs[2].sampling.max_tokens, 50);
}

TEST_F(AgentLoopTest, StopsAtTheContextBudget) {
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("x", "get_price", {{"item", "pear"}})}},
        {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 150}}}},
       {{"content", "never reached"}}}}});
  config.budget.max_context_tokens = 1000;
  Trajectory t = run_agent(backend, tools, config, "long context");
  EXPECT_EQ(t.stop_reason, StopReason::kTokenBudget);
  EXPECT_NE(t.error.find("context reached 1050"), std::string::npos) << t.error;
}

TEST_F(AgentLoopTest, StopsAtTheTimeBudget) {
  tools.add("slow", [](const json&) -> json {
    std::this_thread::sleep_for(milliseconds(60));
    return "done";
  });
  config.tools.push_back(tool("slow", json::object(), json::array()));
  ScriptedBackend backend(json{{"repeat", true}, {"replies", {{{"tool_calls", {testing::tool_call("s", "slow", json::object())}}}}}});
  config.budget.max_turns = 1000;
  config.budget.max_wall = milliseconds(200);
  Trajectory t = run_agent(backend, tools, config, "slow work");
  EXPECT_EQ(t.stop_reason, StopReason::kTimeBudget) << t.error;
  EXPECT_LT(t.turns.size(), 20u);
  EXPECT_GE(t.turns.size(), 2u);
}

TEST_F(AgentLoopTest, ABackendFailureEndsTheRunWithTheReason) {
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("x", "get_price", {{"item", "pear"}})}}},
       {{"error", {{"kind", "protocol"}, {"message", "reply is not JSON"}}}}}}});
  Trajectory t = run_agent(backend, tools, config, "x");
  EXPECT_EQ(t.stop_reason, StopReason::kBackendError);
  EXPECT_NE(t.error.find("protocol error: reply is not JSON"), std::string::npos) << t.error;
  EXPECT_EQ(t.turns.size(), 1u);
  EXPECT_EQ(t.messages.back().role, "tool");  // what happened before is kept
}

TEST_F(AgentLoopTest, ABrokenEnvironmentEndsTheRun) {
  struct Broken : ToolExecutor {
    ToolOutcome call(const std::string&, const json&, milliseconds) override {
      ToolOutcome o;
      o.error = "sandbox could not start";
      o.fatal = true;
      return o;
    }
  } broken;
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("x", "get_price", {{"item", "pear"}}), testing::tool_call("y", "get_price", {{"item", "apple"}})}}},
       {{"content", "never"}}}}});
  Trajectory t = run_agent(backend, broken, config, "x");
  EXPECT_EQ(t.stop_reason, StopReason::kToolFailure);
  EXPECT_NE(t.error.find("sandbox could not start"), std::string::npos);
  EXPECT_EQ(t.tool_calls, 1);  // the second call was not attempted
  EXPECT_EQ(backend.requests().size(), 1u);
}

TEST_F(AgentLoopTest, AFinalAnswerToolEndsTheRunWithItsArguments) {
  config.tools.push_back(tool("submit", {{"total", {{"type", "integer"}}}}, {"total"}));
  config.final_answer_tool = "submit";
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("a", "submit", {{"total", "twelve"}})}}},  // rejected: wrong type
       {{"tool_calls", {testing::tool_call("b", "submit", {{"total", 12}})}}}}}});
  Trajectory t = run_agent(backend, tools, config, "x");
  EXPECT_EQ(t.stop_reason, StopReason::kFinalAnswer);
  ASSERT_TRUE(t.final_answer);
  EXPECT_EQ(*t.final_answer, (json{{"total", 12}}));
  EXPECT_EQ(t.tool_errors, 1);
}

TEST_F(AgentLoopTest, ACutOffReplyIsReportedAsSuch) {
  ScriptedBackend backend(json{{"replies", {{{"content", "The answer is"}, {"finish_reason", "length"}}}}});
  Trajectory t = run_agent(backend, tools, config, "x");
  EXPECT_EQ(t.stop_reason, StopReason::kLength);
  EXPECT_EQ(*t.final_answer, "The answer is");
}

TEST_F(AgentLoopTest, LongResultsAreCutAndDuplicateIdsMadeUnique) {
  tools.add("dump", [](const json&) -> json { return std::string(5000, 'x'); });
  config.tools.push_back(tool("dump", json::object(), json::array()));
  config.max_tool_result_chars = 100;
  ScriptedBackend backend(json{{"replies",
      {{{"tool_calls", {testing::tool_call("same", "dump", json::object()), testing::tool_call("same", "dump", json::object())}}},
       {{"content", "ok"}}}}});
  Trajectory t = run_agent(backend, tools, config, "x");
  ASSERT_EQ(t.messages.size(), 6u);
  EXPECT_NE(t.messages[3].tool_call_id, t.messages[4].tool_call_id);
  EXPECT_EQ(t.messages[2].tool_calls[1].id, t.messages[4].tool_call_id);
  EXPECT_LT(t.messages[3].content.size(), 300u);
  EXPECT_NE(t.messages[3].content.find("the result was 5000 characters"), std::string::npos);
  EXPECT_TRUE(t.tokens_estimated);  // the script gave no usage
  EXPECT_GT(t.completion_tokens, 0);
}

TEST_F(AgentLoopTest, RejectsConfigsThatCannotWork) {
  ScriptedBackend backend(json{{"replies", json::array()}});
  AgentConfig bad = config;
  bad.final_answer_tool = "submit";
  EXPECT_THROW(run_agent(backend, tools, bad, "x"), std::invalid_argument);
  bad = config;
  bad.tools.push_back({{"type", "function"}, {"function", {{"description", "nameless"}}}});
  EXPECT_THROW(run_agent(backend, tools, bad, "x"), std::invalid_argument);
}

}  // namespace
}  // namespace envforge::agents
