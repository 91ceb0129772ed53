#include "generators/search/validate.h"

#include <algorithm>
#include <cctype>

#include "data/content_id.h"
#include "generators/answer_judge.h"
#include "generators/search/text_forms.h"
#include "generators/work_util.h"

namespace envforge::generators::search {
namespace {

using nlohmann::json;

// "The Lowlands", "an engineer": verify.py drops one leading article, so another must not be added.
bool starts_with_article(const std::string& s) {
  std::string head = s.substr(0, 4);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return head.rfind("the ", 0) == 0 || head.rfind("a ", 0) == 0 || head.rfind("an ", 0) == 0;
}

// Other ways to write the reference that verify.py must accept.
std::vector<std::pair<std::string, std::string>> reference_forms(const SearchTask& t) {
  const std::string& a = t.answers.front();
  std::vector<std::pair<std::string, std::string>> forms;
  std::string upper = a;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  forms.push_back({"upper-case", "  " + upper + ". "});
  switch (t.evaluation.answer_kind) {
    case ValueKind::kDate:
      forms.push_back({"date-words", date_words(a)});
      forms.push_back({"date-words-us", date_words_us(a)});
      break;
    case ValueKind::kNumber:
      if (with_thousands(a) != a) forms.push_back({"thousands", with_thousands(a)});
      break;
    case ValueKind::kEntity:
    case ValueKind::kText:
      if (!starts_with_article(a)) forms.push_back({"article", "the " + a});
      break;
    case ValueKind::kYear:
      forms.push_back({"in-year", "in " + a});
      break;
  }
  for (size_t i = 1; i < t.answers.size(); ++i) forms.push_back({"alias", t.answers[i]});
  return forms;
}

}  // namespace

json SearchTask::verifier_task() const {
  return {{"question", prompt}, {"answer_kind", value_kind_name(evaluation.answer_kind)}, {"answers", answers}};
}

json SearchTask::proof_json(const World& w) const {
  json out = json::array();
  for (const Fact* f : evaluation.proof) {
    json j = {{"subject", w.entities[static_cast<size_t>(f->subject)].name},
              {"predicate", f->predicate},
              {"value", w.value_text(*f)},
              {"doc", f->doc},
              {"evidence", f->evidence}};
    out.push_back(j);
  }
  return out;
}

SearchTask make_task(const World& w, const Question& q) {
  SearchTask t;
  t.question = q;
  t.evaluation = evaluate(w, q);
  t.prompt = render_question(w, q);
  t.answers = accepted_answers(w, t.evaluation);
  t.candidates = confusables(w, q, t.evaluation, t.answers);
  return t;
}

SearchValidation validate_task(PythonExecutor& py, const World& w, const SearchTask& t,
                               const SearchValidationOptions& o) {
  SearchValidation out;
  auto note = [&](const std::string& why) {
    if (out.reject_reason.empty()) out.reject_reason = why;
  };
  // Uniqueness, against every structured fact (not what the task says about itself).
  const Evaluation ev = evaluate(w, t.question);
  out.uniqueness = {{"start_matches", ev.start_matches.size()}, {"answers", ev.answers.size()},
                    {"problem", ev.problem}};
  if (!ev.unique()) {
    note("ambiguous: " + ev.problem);
  } else if (t.answers.empty() || *ev.answers.begin() != t.answers.front()) {
    note("the facts give '" + *ev.answers.begin() + "', the task says '" +
         (t.answers.empty() ? std::string() : t.answers.front()) + "'");
  }
  if (!out.reject_reason.empty()) return out;  // no sandbox time for a task that cannot stand

  const json task_json = t.verifier_task();
  auto judge = [&](const std::string& answer, const std::string& check, int attempt, bool expect_pass) {
    return judge_answer(py, task_json, answer, check, attempt, expect_pass);
  };
  JudgedAnswer ref = judge(t.answers.front(), "reference", 0, true);
  ref.record.as_expected = ref.record.verdict == "pass";
  if (!ref.record.as_expected) note("reference: " + ref.record.verdict + " (" + ref.record.reason + ")");
  out.records.push_back(ref.record);
  for (const auto& [form, text] : reference_forms(t)) {
    JudgedAnswer j = judge(text, "reference-form:" + form, 0, true);
    j.record.as_expected = j.record.verdict == "pass";
    if (!j.record.as_expected) note("reference-form:" + form + " '" + text + "': " + j.record.verdict + " (" + j.record.reason + ")");
    out.records.push_back(j.record);
  }
  size_t failed_as_expected = 0;
  std::vector<JudgedAnswer> first_candidate;
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    const Candidate& c = t.candidates[i];
    JudgedAnswer j = judge(c.answer, "candidate:" + c.kind + ":" + std::to_string(i), 0, false);
    j.record.as_expected = j.record.verdict == "fail";
    if (!j.record.as_expected)
      note("candidate '" + c.answer + "' (" + c.kind + "): expected a failure, got " + j.record.verdict + " (" +
           j.record.reason + ")");
    failed_as_expected += j.record.as_expected;
    if (first_candidate.empty()) first_candidate.push_back(j);
    out.records.push_back(j.record);
  }
  if (failed_as_expected < o.min_candidates)
    note("only " + std::to_string(failed_as_expected) + " confusable candidates fail (need " +
         std::to_string(o.min_candidates) + ")");
  auto repeat = [&](const JudgedAnswer& first, const std::string& answer) {
    JudgedAnswer again = judge(answer, first.record.check, 1, first.record.expected_pass);
    data::ValidationRecord& r = again.record;
    r.as_expected = r.verdict == first.record.verdict && r.reason == first.record.reason && r.score == first.record.score;
    if (!r.as_expected) note(first.record.check + ": a second run disagreed (" + r.reason + ")");
    out.records.push_back(r);
  };
  repeat(ref, t.answers.front());
  if (!first_candidate.empty()) repeat(first_candidate.front(), t.candidates.front().answer);

  // The proof, through the tools: stated where it says, and reachable by search.
  json facts = json::array();
  for (const Fact* f : ev.proof) {
    const Document* d = w.document(f->doc);
    facts.push_back({{"doc", f->doc}, {"evidence", f->evidence}, {"title", d ? d->title : ""}});
  }
  const auto started = unix_now_ms();
  const auto res = py.call("probe", "reach", {{"facts", facts}, {"k", o.search_k}});
  if (!res.ok || !res.value.is_array() || res.value.size() != facts.size()) {
    data::ValidationRecord r;
    r.check = "proof";
    r.expected_pass = true;
    r.verdict = "error";
    r.reason = res.ok ? "probe returned " + res.value.dump().substr(0, 200) : res.error_type + ": " + res.message.substr(0, 200);
    r.input_digest = data::content_id(facts);
    r.output_digest = data::sha256_hex(r.reason);
    r.started_at_ms = started;
    r.wall_ms = res.wall_ms;
    note("proof: " + r.reason);
    out.records.push_back(r);
  } else {
    for (size_t i = 0; i < facts.size(); ++i) {
      const json& v = res.value[i];
      data::ValidationRecord r;
      r.check = "proof:" + std::to_string(i);
      r.expected_pass = true;
      r.input_digest = data::content_id(facts[i]);
      r.output_digest = data::content_id(v);
      r.started_at_ms = started;
      r.wall_ms = res.wall_ms / static_cast<int64_t>(facts.size());
      const bool stated = v.value("stated", false);
      const int rank = v.value("rank", 0);
      r.verdict = stated && rank > 0 ? "pass" : "fail";
      r.score = r.verdict == "pass" ? 1.0 : 0.0;
      r.reason = !stated ? "document " + facts[i]["doc"].get<std::string>() + " does not state: " +
                               facts[i]["evidence"].get<std::string>().substr(0, 120)
                 : rank == 0 ? "document " + facts[i]["doc"].get<std::string>() + " is not among the first " +
                                   std::to_string(o.search_k) + " search hits for its evidence or its title"
                             : "stated in " + facts[i]["doc"].get<std::string>() + ", search rank " + std::to_string(rank);
      r.as_expected = r.verdict == "pass";
      if (!r.as_expected) note("proof:" + std::to_string(i) + ": " + r.reason);
      out.records.push_back(r);
    }
  }
  out.usable = out.reject_reason.empty();
  return out;
}

}  // namespace envforge::generators::search
