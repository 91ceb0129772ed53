#include "generators/answer_judge.h"

#include "data/content_id.h"
#include "generators/authored/text_util.h"
#include "generators/work_util.h"

namespace envforge::generators {
namespace {

using nlohmann::json;

// Verifier text goes into the corpus: valid UTF-8, short enough to read in an audit.
std::string short_text(const std::string& s) { return authored::clip_text(authored::to_valid_utf8(s), 300); }

}  // namespace

std::string answer_digest(const json& value) {
  return value.is_string() ? data::sha256_hex(value.get<std::string>()) : data::content_id(value);
}

JudgedAnswer judge_answer(PythonExecutor& py, const json& task, const json& answer, const std::string& check,
                          int attempt, bool expect_pass) {
  JudgedAnswer j;
  data::ValidationRecord& r = j.record;
  r.check = check;
  r.attempt = attempt;
  r.input_digest = answer_digest(answer);
  r.expected_pass = expect_pass;
  r.started_at_ms = unix_now_ms();
  const auto res = py.call("verify", "verify", {{"answer", answer}, {"world", py.world_path()}, {"task", task}});
  r.wall_ms = res.wall_ms;
  if (!res.ok) {
    r.verdict = "error";
    r.reason = short_text(res.error_type + ": " + res.message);
    r.output_digest = data::sha256_hex(r.reason);
    return j;
  }
  const json& v = res.value;
  r.output_digest = answer_digest(v);
  if (!v.is_object() || !v.contains("pass") || !v["pass"].is_boolean() || !v.contains("reason") ||
      !v["reason"].is_string() || !v.contains("score") || !v["score"].is_number()) {
    r.verdict = "error";
    r.reason = "BadResult: verify must return {\"pass\": bool, \"score\": number, \"reason\": str}, returned " +
               short_text(v.dump());
    return j;
  }
  r.verdict = v["pass"].get<bool>() ? "pass" : "fail";
  r.score = v["score"].get<double>();
  r.reason = short_text(v["reason"].get<std::string>());
  if (v.contains("constraint") && v["constraint"].is_string()) j.constraint = v["constraint"].get<std::string>();
  return j;
}

}  // namespace envforge::generators
