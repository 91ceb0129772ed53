// What the trip prompts say about the answer format is what the verifiers (verify.py and the
// C++ checker) judge: keys the format does not name are ignored, whole numbers may be written
// 436.0, ids are required where ids are asked, and the day-start rule reads one way.
#include <gtest/gtest.h>

#include <string>

#include "generators/trip/checker.h"
#include "tests/generators/trip_python_fixture.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;

struct FormatCase {
  testing::TripPython env{3};
  std::vector<LadderTask> ladder = make_ladder(env.world, 3);

  const LadderTask& first(const std::string& kind) {
    for (const auto& lt : ladder)
      if (lt.task.kind == kind) return lt;
    throw std::runtime_error("no " + kind + " task in the ladder");
  }
  // verify.py's verdict; the C++ checker must agree on pass and constraint.
  json judge(const LadderTask& lt, const json& answer) {
    auto r = env.python->call("verify", "verify",
                              {{"answer", answer}, {"world", env.db_path}, {"task", lt.task.to_json()}});
    EXPECT_TRUE(r.ok) << r.error_type << ": " << r.message << r.traceback;
    if (answer.is_object()) {
      const Verdict cpp = check_answer(env.world, lt.task, answer);
      EXPECT_EQ(cpp.pass, r.value.value("pass", false)) << cpp.code << " " << r.value.dump();
      if (!cpp.pass) {
        EXPECT_EQ(cpp.code, r.value.value("constraint", "")) << r.value.dump();
      }
    }
    return r.value;
  }
};

TEST(TripAnswerFormat, KeysTheFormatDoesNotNameAreIgnoredAsEveryPromptSays) {
  FormatCase c;
  const LadderTask& plan = c.first("plan");
  const LadderTask& lookup = c.first("lookup");
  for (const LadderTask* lt : {&plan, &lookup})
    EXPECT_NE(lt->prompt.find("Keys other than these are ignored."), std::string::npos) << lt->prompt;
  json extra = plan.reference.plan;
  extra["note"] = "have fun";
  extra["days"][0]["weather"] = {{"sunny", true}};
  ASSERT_FALSE(extra["days"][0]["activities"].empty());
  extra["days"][0]["activities"][0]["why"] = "a classic";
  EXPECT_EQ(c.judge(plan, extra)["pass"], true);
  json hotel = lookup.reference.plan;
  hotel["confidence"] = 0.9;
  EXPECT_EQ(c.judge(lookup, hotel)["pass"], true);
}

TEST(TripAnswerFormat, WholeNumbersWrittenWithAPointAreTheIntegersThePromptAllows) {
  FormatCase c;
  const LadderTask& plan = c.first("plan");
  EXPECT_NE(plan.prompt.find("436 and 436.0 are the same"), std::string::npos) << plan.prompt;
  json pointed = plan.reference.plan;
  pointed["total_cost"] = static_cast<double>(pointed["total_cost"].get<int>());
  ASSERT_TRUE(pointed["total_cost"].is_number_float());
  EXPECT_EQ(c.judge(plan, pointed)["pass"], true) << pointed["total_cost"];
  // As text too: the model may answer in plain JSON text.
  EXPECT_EQ(c.judge(plan, pointed.dump())["pass"], true);
  json fraction = plan.reference.plan;
  fraction["total_cost"] = fraction["total_cost"].get<int>() + 0.5;
  EXPECT_EQ(c.judge(plan, fraction)["constraint"], "format");
  json huge = plan.reference.plan;
  huge["total_cost"] = 1e300;  // whole, but not the cost (and no overflow on the way)
  EXPECT_EQ(c.judge(plan, huge)["constraint"], "cost_mismatch");
  json text = plan.reference.plan;
  text["total_cost"] = std::to_string(text["total_cost"].get<int>());
  EXPECT_EQ(c.judge(plan, text)["constraint"], "format");
}

TEST(TripAnswerFormat, NamesWhereIdsAreAskedAreUnknownItemsAndThePromptsSaySo) {
  FormatCase c;
  const LadderTask& plan = c.first("plan");
  const LadderTask& lookup = c.first("lookup");
  EXPECT_NE(plan.prompt.find("not names"), std::string::npos) << plan.prompt;
  EXPECT_NE(lookup.prompt.find("not its name"), std::string::npos) << lookup.prompt;
  json named = plan.reference.plan;
  const std::string hotel_id = named["days"][0]["hotel"];
  named["days"][0]["hotel"] = c.env.world.hotel(hotel_id)->name;
  EXPECT_EQ(c.judge(plan, named)["constraint"], "unknown_item");
  json by_name = {{"hotel_id", c.env.world.hotel(lookup.reference.plan["hotel_id"])->name}};
  EXPECT_EQ(c.judge(lookup, by_name)["constraint"], "unknown_item");
}

TEST(TripAnswerFormat, TextNestedPastPythonsParserDepthIsMalformedNotARaise) {
  FormatCase c;
  const LadderTask& plan = c.first("plan");
  const json v = c.judge(plan, std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_EQ(v["pass"], false);
  EXPECT_EQ(v["constraint"], "malformed") << v.dump();
}

TEST(TripPrompt, TheDayStartRuleSaysWhatTheVerifierChecksOnTravelDays) {
  FormatCase c;
  const LadderTask* travel = nullptr;
  for (const auto& lt : c.ladder)
    for (const auto& d : lt.task.days) travel = d.travel && !travel ? &lt : travel;
  ASSERT_NE(travel, nullptr) << "the ladder has no travel day";
  EXPECT_EQ(travel->prompt.find("days start at 09:00;"), std::string::npos) << "reads two ways";
  EXPECT_NE(travel->prompt.find("on a day without travel the first activity starts at 09:00 or later; on a "
                                "travel day it starts at least 30 minutes after the transport arrives, which "
                                "may be before 09:00"),
            std::string::npos)
      << travel->prompt;
}

}  // namespace
}  // namespace envforge::generators::trip
