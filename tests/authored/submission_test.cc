// Structural checks of a submission, before anything is validated in the sandbox.
#include "generators/authored/submission.h"

#include <gtest/gtest.h>

#include "generators/authored/validate.h"
#include "library_script.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;
namespace t = testing;

class SubmissionTest : public ::testing::Test {
 protected:
  SubmissionTest() {
    ws_.write("world.db", std::string("SQLite format 3\0rest", 20));
    ws_.write("tools.py", t::kToolsPy);
    ws_.write("tools.json", t::tools_json().dump());
    ws_.write("verify.py", t::kVerifyFirstPy);
  }
  std::string refused(const json& args, const Submission* previous = nullptr) {
    auto r = parse_submission(args, ws_, rules_, previous);
    if (auto* why = std::get_if<std::string>(&r)) return *why;
    return "accepted";
  }
  Workspace ws_;
  SubmissionRules rules_;
};

TEST_F(SubmissionTest, AcceptsTheLibrarySubmission) {
  auto r = parse_submission(t::first_submission(), ws_, rules_);
  ASSERT_TRUE(std::holds_alternative<Submission>(r)) << std::get<std::string>(r);
  const Submission& s = std::get<Submission>(r);
  EXPECT_EQ(s.wrong_answers.size(), 3u);
  EXPECT_EQ(s.tool_schemas.size(), 3u);
  EXPECT_EQ(s.task_object(), json({{"prompt", s.prompt}, {"params", {{"author", "Stanislaw Lem"}, {"genre", "sf"}}}}));
}

TEST_F(SubmissionTest, RefusesWhatCannotBeValidated) {
  auto with = [](const char* key, json value) {
    json s = t::first_submission();
    s[key] = std::move(value);
    return s;
  };
  auto without = [](const char* key) {
    json s = t::first_submission();
    s.erase(key);
    return s;
  };
  EXPECT_EQ(refused(json::array()), "arguments must be an object, got array");
  EXPECT_EQ(refused(without("task_prompt")), "missing \"task_prompt\"");
  EXPECT_EQ(refused(with("task_prompt", "  ")), "\"task_prompt\" is empty");
  EXPECT_EQ(refused(with("answer_schema", "object")), "\"answer_schema\": expected a JSON Schema object with a \"type\"");
  EXPECT_EQ(refused(with("reference_solution", {{"book", "B02"}})),
            "\"reference_solution\" does not fit \"answer_schema\": missing required argument \"book_id\"");
  EXPECT_NE(refused(with("wrong_answers", json::array())).find("between 3 and 20"), std::string::npos);
  json same = t::first_submission();
  same["wrong_answers"][1]["answer"] = same["reference_solution"];
  EXPECT_EQ(refused(same), "\"wrong_answers\"[1] equals the reference solution");
  json repeated = t::first_submission();
  repeated["wrong_answers"][2] = repeated["wrong_answers"][0];
  EXPECT_EQ(refused(repeated), "\"wrong_answers\"[2] repeats an earlier wrong answer");
  json missing_example = t::first_submission();
  missing_example["tool_examples"].erase(2);
  EXPECT_EQ(refused(missing_example), "\"tool_examples\": give at least one working call of the tool \"get_book\"");
  json bad_example = t::first_submission();
  bad_example["tool_examples"][2]["arguments"] = {{"id", "B02"}};
  EXPECT_NE(refused(bad_example).find("do not fit the schema of \"get_book\""), std::string::npos);
  bad_example["tool_examples"][2]["tool"] = "rm";
  EXPECT_EQ(refused(bad_example), "\"tool_examples\"[2]: tools.json has no tool \"rm\"");
}

TEST_F(SubmissionTest, RefusesBrokenWorkspaceFiles) {
  Workspace good = ws_;
  ws_ = Workspace();
  EXPECT_EQ(refused(t::first_submission()), "the workspace has no world.db (the SQLite world database)");
  ws_ = good;
  ws_.write("world.db", "not a database");
  EXPECT_EQ(refused(t::first_submission()), "world.db is not an SQLite database");
  ws_ = good;
  ws_.write("tools.json", "[{\"type\": \"function\"");
  EXPECT_EQ(refused(t::first_submission()), "tools.json is not valid JSON");
  ws_.write("tools.json", R"([{"type": "function", "function": {"name": "submit_answer", "description": "",
                               "parameters": {"type": "object"}}}])");
  EXPECT_EQ(refused(t::first_submission()), "tools.json[0]: the name \"submit_answer\" is reserved");
  ws_.write("tools.json", R"([{"type": "function", "function": {"name": "a b", "parameters": {}}}])");
  EXPECT_EQ(refused(t::first_submission()), "tools.json[0].function.name: expected a Python function name");
  ws_ = good;
  ws_.write("verify.py", "def check(answer):\n    return True\n");
  EXPECT_EQ(refused(t::first_submission()), "verify.py defines no function verify(answer, world, task)");
  ws_.write("verify.py", "\xff\xfe");
  EXPECT_EQ(refused(t::first_submission()), "verify.py is not UTF-8 text");
}

TEST_F(SubmissionTest, HardeningRoundsKeepTheEnvironmentAndChangeTheTask) {
  const Submission first = std::get<Submission>(parse_submission(t::first_submission(), ws_, rules_));
  EXPECT_EQ(refused(t::first_submission(), &first), "this is the previous task unchanged; submit a harder variant");
  ws_.write("verify.py", t::kVerifyHarderPy);
  EXPECT_EQ(refused(t::harder_submission(), &first), "accepted");
  ws_.write("tools.py", std::string(t::kToolsPy) + "\ndef extra():\n    return 1\n");
  EXPECT_NE(refused(t::harder_submission(), &first).find("fixed after the first round"), std::string::npos);
}

TEST(GenericNegatives, CoverEmptyNullMalformedAndWrongTypeButNeverTheReference) {
  auto kinds = [](const std::vector<GenericNegative>& negatives) {
    std::vector<std::string> out;
    for (const auto& n : negatives) out.push_back(n.kind);
    return out;
  };
  const json object_schema = {{"type", "object"}};
  auto n = generic_negatives(object_schema, {{"book_id", "B02"}});
  EXPECT_EQ(kinds(n), (std::vector<std::string>{"empty", "null", "empty_object", "malformed_json", "wrong_type"}));
  EXPECT_EQ(n[3].answer, "{\"book_id\":\"B02\"");
  EXPECT_EQ(n[4].answer, 987654321);
  n = generic_negatives({{"type", "integer"}}, 42);
  EXPECT_EQ(kinds(n), (std::vector<std::string>{"empty", "null", "malformed_json", "wrong_type"}));
  EXPECT_EQ(n[3].answer, "not a number");
  // A task whose right answer is the empty string gets no "empty" negative.
  n = generic_negatives({{"type", "string"}}, "");
  EXPECT_EQ(kinds(n), (std::vector<std::string>{"null", "malformed_json", "wrong_type"}));
}

}  // namespace
}  // namespace envforge::generators::authored
