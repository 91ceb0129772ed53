#include "generators/authored/validate.h"

#include "data/content_id.h"
#include "generators/answer_judge.h"
#include "generators/work_util.h"
#include "generators/authored/text_util.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;

std::string short_text(const std::string& s) { return clip_text(to_valid_utf8(s), 300); }

struct Check {
  std::string name;
  json answer;
  bool expect_pass;
};

data::ValidationRecord judge(PythonExecutor& py, const Submission& s, const Check& c, int attempt) {
  return judge_answer(py, s.task_object(), c.answer, c.name, attempt, c.expect_pass).record;
}

std::string verdict_text(const data::ValidationRecord& r) { return r.verdict + " (" + r.reason + ")"; }

}  // namespace

std::vector<GenericNegative> generic_negatives(const json& schema, const json& reference) {
  std::vector<GenericNegative> out = {{"empty", ""}, {"null", nullptr}};
  const std::string type = schema.contains("type") && schema["type"].is_string() ? schema["type"].get<std::string>() : "";
  if (type == "object") out.push_back({"empty_object", json::object()});
  if (type == "array") out.push_back({"empty_array", json::array()});
  // The reference's own text, cut short: JSON that does not parse.
  const std::string text = reference.dump();
  out.push_back({"malformed_json", text.size() > 1 ? text.substr(0, text.size() - 1) : std::string("{")});
  // A value of a JSON type the schema does not allow.
  if (type == "number" || type == "integer" || type == "boolean") out.push_back({"wrong_type", "not a number"});
  else if (type == "array") out.push_back({"wrong_type", json{{"answer", reference}}});
  else out.push_back({"wrong_type", 987654321});
  std::vector<GenericNegative> kept;
  for (auto& n : out)
    if (n.answer != reference) kept.push_back(std::move(n));
  return kept;
}

AuthoredValidation validate_submission(PythonExecutorFactory& python, const Submission& s,
                                       const std::string& world_db_path) {
  AuthoredValidation out;
  auto note = [&](const std::string& why) {
    if (out.reject_reason.empty()) out.reject_reason = why;
  };
  const std::vector<verifiers::PythonFile> files = {{"tools.py", s.tools_py}, {"verify.py", s.verify_py}};
  auto py = python.open(files, world_db_path);

  // Every tool answers its example calls (a result, not an exception or an {"error": ...}).
  for (std::size_t i = 0; i < s.tool_examples.size(); ++i) {
    const ToolExample& e = s.tool_examples[i];
    data::ValidationRecord r;
    r.check = "tool:" + e.tool;
    r.attempt = static_cast<int>(i);
    r.input_digest = data::content_id(e.arguments);
    r.expected_pass = true;
    r.started_at_ms = unix_now_ms();
    const auto res = py->call("tools", e.tool, e.arguments);
    r.wall_ms = res.wall_ms;
    if (!res.ok) {
      r.verdict = "error";
      r.reason = short_text(res.error_type + ": " + res.message);
    } else if (res.value.is_object() && res.value.contains("error")) {
      r.verdict = "fail";
      r.reason = short_text("the tool refused its example arguments: " + res.value["error"].dump());
    } else {
      r.verdict = "pass";
      r.score = 1;
      r.reason = "answered";
    }
    r.output_digest = res.ok ? answer_digest(res.value) : data::sha256_hex(r.reason);
    r.as_expected = r.verdict == "pass";
    if (!r.as_expected)
      note("tool " + e.tool + " " + e.arguments.dump() + ": " + verdict_text(r));
    out.records.push_back(std::move(r));
  }

  std::vector<Check> checks = {{"reference", s.reference, true}};
  for (std::size_t i = 0; i < s.wrong_answers.size(); ++i)
    checks.push_back({"negative:author:" + std::to_string(i), s.wrong_answers[i].answer, false});
  for (auto& n : generic_negatives(s.answer_schema, s.reference))
    checks.push_back({"negative:" + n.kind, std::move(n.answer), false});

  std::vector<data::ValidationRecord> first;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    data::ValidationRecord r = judge(*py, s, checks[i], 0);
    r.as_expected = r.verdict == (checks[i].expect_pass ? "pass" : "fail");
    if (!r.as_expected) {
      std::string why = checks[i].name + ": expected " + (checks[i].expect_pass ? "pass" : "fail") + ", got " +
                        verdict_text(r);
      if (i > 0 && i <= s.wrong_answers.size()) why += "; the author's reason it must fail: " + short_text(s.wrong_answers[i - 1].why);
      note(why);
    }
    first.push_back(r);
    out.records.push_back(std::move(r));
  }

  // Repeatability, in a fresh interpreter so state kept between calls cannot hide.
  py.reset();
  auto again = python.open(files, world_db_path);
  for (std::size_t i = 0; i < checks.size(); ++i) {
    data::ValidationRecord r = judge(*again, s, checks[i], 1);
    r.as_expected = r.verdict == first[i].verdict && r.reason == first[i].reason && r.score == first[i].score;
    if (!r.as_expected)
      note(checks[i].name + ": a second run disagreed (" + verdict_text(first[i]) + " then " + verdict_text(r) + ")");
    out.records.push_back(std::move(r));
  }
  out.usable = out.reject_reason.empty();
  return out;
}

}  // namespace envforge::generators::authored
