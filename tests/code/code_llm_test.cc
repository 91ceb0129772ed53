// --llm for code tasks: a model's rewrite of a function is parsed and then judged like any
// mutant; work items built against the OpenAI-compatible stand-in server keep a good
// rewrite as the bug, count every refused reply by its reason, and use the model's issue
// text only when it withholds what the level withholds. Garbage and hostile replies never
// end a work item.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agents/backend_spec.h"
#include "generators/code/model_text.h"
#include "generators/code/work_item.h"
#include "generators/sandbox_python.h"
#include "tests/agents/stand_in_server.h"
#include "tests/code/code_fixture.h"

namespace envforge::generators::code {
namespace {

using agents::testing::ScriptedHttpReply;
using agents::testing::StandInServer;
using nlohmann::json;
using testing::ScratchDir;
using namespace std::chrono_literals;

ScriptedHttpReply model_says(const std::string& content) {
  return ScriptedHttpReply::json({{"id", "chatcmpl-1"},
                                  {"object", "chat.completion"},
                                  {"model", "stand-in"},
                                  {"choices", {{{"index", 0},
                                                {"message", {{"role", "assistant"}, {"content", content}}},
                                                {"finish_reason", "stop"}}}}});
}

std::unique_ptr<agents::Backend> stand_in_backend(const StandInServer& server) {
  agents::BackendOptions bo;
  bo.openai.retry.max_retries = 0;
  return agents::make_backend(agents::parse_backend_spec("openai:" + server.base_url() + "#stand-in"), bo);
}

// clamp with its two boundary returns swapped: test_below and test_above fail, test_inside passes.
const char* kSwappedClamp =
    "Here is the function:\n\n```python\ndef clamp(x, lo, hi):\n    if x < lo:\n        return hi\n"
    "    if x > hi:\n        return lo\n    return x\n```\n";

TEST(CodeLlm, ARewriteIsParsedThenJudgedLikeAnyMutant) {
  ScratchDir dir;
  const RepoProfile p = load_profile(testing::write_calc_project(dir));
  const ProfileModule& m = p.modules[0];
  const std::string clamp = "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n"
                            "        return hi\n    return x\n";
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"", "empty reply"},
      {"I am sorry, I cannot do that (", "not valid Python"},
      {std::string("def clamp(x, lo, hi):\n    return \0x\n", 34), "not valid Python"},
      {std::string(30000, 'x'), "reply longer than"},
      {"```python\ndef mean(xs):\n    return 0\n```", "not exactly one function named clamp"},
      {"```python\nimport os\n" + clamp + "```", "not exactly one function named clamp"},
      {"```python\ndef clamp(x, lo, hi=10):\n    return x\n```", "changes the signature"},
      {"```python\n@staticmethod\n" + clamp + "```", "changes the decorators"},
      {clamp, "no real change"},
      {"```python\ndef clamp(x, lo, hi):\n    \"\"\"Clamp.\"\"\"\n    if x < lo:\n        return lo\n"
       "    if x > hi:\n        return hi\n    return x\n```", "no real change"},
      {"```python\ndef clamp(x, lo, hi):\n    a = 1\n    b = 2\n    c = 3\n    d = 4\n    e = 5\n    f = 6\n"
       "    g = 7\n    return min(max(x, lo), hi) + a - a\n```", "changes too much"}};
  for (const auto& [reply, why] : refused) {
    const json v = judge_rewrite(p, m, "clamp", reply);
    EXPECT_FALSE(v["keep"].get<bool>()) << reply.substr(0, 60);
    EXPECT_FALSE(v["parsed"].get<bool>()) << reply.substr(0, 60) << " -> " << v.dump();
    EXPECT_NE(v["why"].get<std::string>().find(why), std::string::npos) << reply.substr(0, 60) << " -> " << v.dump();
  }
  // Parsed, but the tests see no difference: refused by the same selection as a mutant.
  json v = judge_rewrite(p, m, "clamp",
                         "```python\ndef clamp(x, lo, hi):\n    if lo > x:\n        return lo\n    if x > hi:\n"
                         "        return hi\n    return x\n```");
  EXPECT_TRUE(v["parsed"].get<bool>()) << v.dump();
  EXPECT_FALSE(v["keep"].get<bool>());
  EXPECT_EQ(v["why"], "fails_nothing") << v.dump();
  v = judge_rewrite(p, m, "clamp", kSwappedClamp);
  EXPECT_TRUE(v["keep"].get<bool>()) << v.dump();
  EXPECT_EQ(v["fail_to_pass"], json::array({"tests.test_calc.ClampTest.test_above", "tests.test_calc.ClampTest.test_below"}))
      << v.dump();
  EXPECT_EQ(v["pass_to_pass"], json::array({"tests.test_calc.ClampTest.test_inside"})) << v.dump();
}

TEST(CodeLlm, IssueTextCheckWithholdsTestsAndTheFix) {
  const json facts = {{"forbidden", {{"tests", {"test_below", "tests.test_calc.ClampTest.test_below"}},
                                     {"code", {"return lo"}}}}};
  EXPECT_EQ(issue_text_problem("Clamping a value below the range gives the upper bound instead of the lower one.", facts),
            "");
  EXPECT_NE(issue_text_problem("short", facts), "");
  EXPECT_NE(issue_text_problem("The check Test_Below fails when a value under the range is clamped.", facts).find("names the test"),
            std::string::npos);
  EXPECT_EQ(issue_text_problem("Clamping is wrong; it should just `return lo` when the value is too small.", facts),
            "shows a line of the diff");
  EXPECT_EQ(issue_text_problem("Clamping is wrong, see:\n--- a/mylib/calc.py\n+++ b/mylib/calc.py\n@@ -1 +1 @@\n", facts),
            "contains a diff");
  EXPECT_NE(issue_text_problem(std::string(5000, 'a'), facts), "");
}

data::WorkItem build_with_model(const RepoProfile& p, const ScratchDir& dir, agents::Backend& llm, uint64_t index) {
  auto python = sandbox_python_factory({.call_timeout = 120s});
  CodeOptions o;
  o.scratch_dir = dir.path;
  o.profile = p;
  o.level = 4;  // two bugs in one file, the issue only describes the symptom
  o.llm = &llm;
  StageTimes times;
  data::WorkItem item = build_work_item(5, index, *python, o, times);
  EXPECT_GE(times.ms("llm"), 0.0);
  return item;
}

void expect_validated(const data::WorkItem& item) {
  ASSERT_EQ(item.tasks.size(), 1u);
  const auto& t = item.tasks[0];
  EXPECT_EQ(t.status, data::TaskStatus::kUsable) << t.reject_reason;
  for (const auto& v : t.validations) EXPECT_TRUE(v.as_expected) << v.check << ": " << v.verdict << " " << v.reason;
}

// Every function of calc is a target; each is answered with the rewrite of clamp, so the
// replies for add and mean are refused and clamp's becomes the first bug. The issue the
// model writes names a failing test, which level 4 withholds: the template stays.
TEST(CodeLlm, AWorkItemKeepsTheModelsBugAndRefusesALeakingIssue) {
  ScratchDir dir;
  const RepoProfile p = load_profile(testing::write_calc_project(dir));
  StandInServer server;
  for (int i = 0; i < 3; ++i) server.enqueue(model_says(kSwappedClamp));
  server.enqueue(model_says("Clamping values is broken: test_below now fails because values under the range come back "
                            "as the upper bound."));
  auto llm = stand_in_backend(server);
  const data::WorkItem item = build_with_model(p, dir, *llm, 0);
  expect_validated(item);
  const auto& t = item.tasks[0];
  const json& gen = t.metadata["generation"]["llm"];
  EXPECT_EQ(gen["asked"], 3) << gen.dump();
  EXPECT_EQ(gen["candidates"], 1) << gen.dump();
  EXPECT_EQ(gen["rejected"]["not exactly one function named add"], 1) << gen.dump();
  EXPECT_EQ(gen["rejected"]["not exactly one function named mean"], 1) << gen.dump();
  EXPECT_TRUE(gen["chosen"].get<bool>()) << gen.dump();
  ASSERT_GE(t.metadata["bugs"].size(), 2u);
  EXPECT_EQ(t.metadata["bugs"][0]["kind"], "llm_rewrite");
  EXPECT_EQ(t.metadata["bugs"][0]["function"], "clamp");
  EXPECT_NE(t.metadata["bugs"][1]["kind"], "llm_rewrite");
  EXPECT_FALSE(gen["issue"]["accepted"].get<bool>());
  EXPECT_NE(gen["issue"]["reason"].get<std::string>().find("names the test"), std::string::npos) << gen.dump();
  EXPECT_NE(t.prompt.find("Since a recent change"), std::string::npos) << t.prompt;  // the template
  EXPECT_EQ(t.prompt.find("test_below"), std::string::npos) << t.prompt;
  EXPECT_EQ(server.request_count(), 4u);
}

// Hostile replies for every rewrite (an HTTP error, a body that is not JSON, a huge
// answer): the AST mutants make the task. A clean issue text is used, between the
// template's first and last paragraphs.
TEST(CodeLlm, HostileRewriteRepliesFallBackToMutantsAndACleanIssueIsUsed) {
  ScratchDir dir;
  const RepoProfile p = load_profile(testing::write_calc_project(dir));
  StandInServer server;
  server.enqueue(ScriptedHttpReply::json({{"error", {{"message", "bad request"}}}}, 400));
  auto html = ScriptedHttpReply::json(nullptr, 200);
  html.content_type = "text/html";
  html.body = "<html>\xff\xfe not json";
  server.enqueue(html);
  server.enqueue(model_says("```python\n" + std::string(25000, '#') + "\n```"));
  const std::string issue = "Since the last update some calculations in mylib.calc give wrong numbers, and the "
                            "checks report a mismatch between the expected and the computed value.";
  server.enqueue(model_says(issue));
  auto llm = stand_in_backend(server);
  const data::WorkItem item = build_with_model(p, dir, *llm, 1);
  expect_validated(item);
  const auto& t = item.tasks[0];
  const json& gen = t.metadata["generation"]["llm"];
  EXPECT_EQ(gen["asked"], 3) << gen.dump();
  EXPECT_EQ(gen["candidates"], 0) << gen.dump();
  EXPECT_EQ(gen["rejected"]["the generator model failed"], 2) << gen.dump();
  EXPECT_EQ(gen["rejected"].size(), 2u) << gen.dump();
  EXPECT_FALSE(gen["chosen"].get<bool>());
  for (const auto& b : t.metadata["bugs"]) EXPECT_NE(b["kind"], "llm_rewrite");
  EXPECT_TRUE(gen["issue"]["accepted"].get<bool>()) << gen.dump();
  EXPECT_NE(t.prompt.find(issue), std::string::npos) << t.prompt;
  EXPECT_EQ(t.prompt.rfind("The repository holds", 0), 0u) << t.prompt;
  EXPECT_NE(t.prompt.find("show_diff"), std::string::npos) << t.prompt;
}

}  // namespace
}  // namespace envforge::generators::code
