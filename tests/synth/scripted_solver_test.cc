// The scripted solver of synth rollouts: placeholders filled from a task, attempts chosen
// round-robin, bad files refused with the file and the problem named.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "agents/scripted_backend.h"
#include "generators/rollout_stage.h"
#include "generators/scripted_solver.h"
#include "generators/solver_source.h"

namespace envforge::generators {
namespace {

using nlohmann::json;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path;
}

agents::ChatRequest request() {
  agents::ChatRequest r;
  r.messages.resize(1);
  r.messages[0].role = "user";
  r.messages[0].content = "go";
  return r;
}

TEST(ScriptedSolver, FillsWholeValuesPointersAndTextFromTheTask) {
  const json context = {{"reference", {{"hotel_id", "H7"}, {"days", {{{"n", 1}}, {{"n", 2}}}}}},
                        {"task", {{"city", "oslo"}}},
                        {"attempt", 3}};
  std::vector<std::string> missing;
  const json filled = fill_placeholders(
      {{"whole", "{{reference}}"}, {"deep", "{{reference/days/1/n}}"}, {"text", "in {{task/city}} #{{attempt}}"},
       {"list", {"{{task/city}}", 5, nullptr}}, {"gone", "{{reference/nope}}"}, {"plain", "{not a placeholder}"}},
      context, missing);
  EXPECT_EQ(filled["whole"], context["reference"]);
  EXPECT_EQ(filled["deep"], 2);
  EXPECT_EQ(filled["text"], "in oslo #3");
  EXPECT_EQ(filled["list"], json({"oslo", 5, nullptr}));
  EXPECT_TRUE(filled["gone"].is_null());
  EXPECT_EQ(filled["plain"], "{not a placeholder}");
  EXPECT_EQ(missing, std::vector<std::string>{"reference/nope"});
}

TEST(ScriptedSolver, AttemptsReplayTheirOwnScriptRoundRobin) {
  const std::string path = write_temp("envforge_scripted_solver_rr.json", R"({"attempts": [
      {"replies": [{"tool_calls": [{"name": "submit_answer", "arguments": {"answer": "{{reference}}"}}]}]},
      {"replies": [{"content": "attempt {{attempt}} gives up"}]}]})");
  const ScriptedSolver solver = ScriptedSolver::load(path);
  EXPECT_EQ(solver.scripts(), 2u);
  const json context = {{"reference", {{"hotel_id", "H7"}}}};
  for (int attempt : {0, 2}) {
    auto backend = solver.backend_for(context, attempt);
    const auto reply = backend->chat(request());
    ASSERT_EQ(reply.message.tool_calls.size(), 1u);
    EXPECT_EQ(reply.message.tool_calls[0].arguments["answer"]["hotel_id"], "H7");
    EXPECT_THROW(backend->chat(request()), agents::BackendError) << "one script per attempt, not shared";
  }
  EXPECT_EQ(solver.backend_for(context, 3)->chat(request()).message.content, "attempt 3 gives up");
  // A placeholder without a value for this task fails the attempt, saying which.
  auto broken = solver.backend_for(json::object(), 0);
  try {
    broken->chat(request());
    FAIL() << "expected a BackendError";
  } catch (const agents::BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("{{reference}}"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(ScriptedSolver, BadFilesAreRefusedNamingFileAndProblem) {
  struct Case {
    std::string text, mentions;
  };
  for (const Case& c : std::vector<Case>{{"not json", "not valid JSON"},
                                         {R"({"attempts": []})", "attempts"},
                                         {R"({"replies": [{"content": "{{answer_key}}"}]})", "answer_key"},
                                         {R"({"replies": 3})", "replies"}}) {
    const std::string path = write_temp("envforge_scripted_solver_bad.json", c.text);
    try {
      ScriptedSolver::load(path);
      ADD_FAILURE() << c.text << " was accepted";
    } catch (const agents::BackendError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.mentions), std::string::npos) << e.what();
    }
    std::filesystem::remove(path);
  }
  EXPECT_THROW(make_solver_source("scripted:/nonexistent/solver.json"), agents::BackendError);
  EXPECT_THROW(make_solver_source("bogus"), agents::BackendError);
  EXPECT_EQ(make_solver_source("none"), nullptr);
}

TEST(KeepBand, ExclusiveByDefaultInclusiveOnRequest) {
  KeepBand band;
  EXPECT_EQ(band.describe(), "(0, 1)");
  EXPECT_FALSE(band.keeps(0.0));
  EXPECT_TRUE(band.keeps(0.5));
  EXPECT_FALSE(band.keeps(1.0));
  KeepBand inclusive{0.25, 1, true};
  EXPECT_EQ(inclusive.describe(), "[0.25, 1]");
  EXPECT_TRUE(inclusive.keeps(0.25));
  EXPECT_TRUE(inclusive.keeps(1.0));
  EXPECT_FALSE(inclusive.keeps(0.2));
  EXPECT_TRUE((KeepBand{0.5, 0.5, false}).empty());
  EXPECT_FALSE((KeepBand{0.5, 0.5, true}).empty());
}

}  // namespace
}  // namespace envforge::generators
