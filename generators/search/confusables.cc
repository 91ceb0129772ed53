#include "generators/search/confusables.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <tuple>

#include "generators/search/text_forms.h"

namespace envforge::generators::search {
namespace {

// Lower-case letters and digits without a leading article: what verify.py cannot tell apart.
std::string loose_key(const std::string& s) {
  std::string lower;
  for (unsigned char c : s) lower += static_cast<char>(std::tolower(c));
  for (const char* article : {"the ", "a ", "an "})
    if (lower.rfind(article, 0) == 0) {
      lower = lower.substr(std::string(article).size());
      break;
    }
  std::string k;
  for (unsigned char c : lower)
    if (std::isalnum(c)) k += static_cast<char>(c);
  return k;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

class Collector {
 public:
  Collector(const std::vector<std::string>& accepted, size_t limit) : limit_(limit) {
    for (const auto& a : accepted) seen_.insert(loose_key(a));
  }
  void add(const std::string& answer, const char* kind) {
    if (out_.size() >= limit_ || answer.empty() || !seen_.insert(loose_key(answer)).second) return;
    out_.push_back({answer, kind});
  }
  bool full() const { return out_.size() >= limit_; }
  std::vector<Candidate> take() { return std::move(out_); }

 private:
  size_t limit_;
  std::set<std::string> seen_;
  std::vector<Candidate> out_;
};

// The chain of `q` followed leniently (first fact of each hop) from `start`: what a solver that
// identified the wrong start would answer.
std::string chain_from(const World& w, const Question& q, int start) {
  Question named = q;
  named.start = start;
  named.constraints.clear();
  const Evaluation ev = evaluate(w, named);
  return ev.answers.size() == 1 ? *ev.answers.begin() : "";
}

std::string shift_date(const std::string& iso, int dy, int dm, int dd) {
  if (iso.size() != 10) return "";
  int y = std::atoi(iso.substr(0, 4).c_str()) + dy, m = std::atoi(iso.substr(5, 2).c_str()) + dm,
      d = std::atoi(iso.substr(8, 2).c_str()) + dd;
  if (m < 1 || m > 12 || d < 1 || d > 28) return "";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}

const std::string& last_predicate(const Question& q) {
  static const std::string none;
  return q.hops.empty() ? none : q.hops.back();
}

}  // namespace

std::vector<std::string> accepted_answers(const World& w, const Evaluation& ev) {
  std::vector<std::string> out;
  if (ev.answers.size() != 1) return out;
  out.push_back(*ev.answers.begin());
  if (ev.answer_entity >= 0)
    for (const auto& a : w.entities[static_cast<size_t>(ev.answer_entity)].aliases) out.push_back(a);
  return out;
}

std::vector<Candidate> confusables(const World& w, const Question& q, const Evaluation& ev,
                                   const std::vector<std::string>& accepted, size_t limit) {
  Collector c(accepted, limit);
  if (ev.answers.size() != 1) return c.take();
  const std::string answer = *ev.answers.begin();

  // The chain from starts that fit all constraints but one.
  if (q.start < 0 && !ev.start_matches.empty()) {
    for (size_t drop = 0; drop < q.constraints.size(); ++drop) {
      Question fewer = q;
      fewer.constraints.erase(fewer.constraints.begin() + static_cast<std::ptrdiff_t>(drop));
      fewer.hops.clear();
      fewer.aggregate.clear();
      for (int s : evaluate(w, fewer).start_matches)
        if (s != ev.start_matches[0]) c.add(chain_from(w, q, s), "relaxed");
    }
  }
  // The chain from entities named almost like the start.
  const int start = ev.start_matches.empty() ? -1 : ev.start_matches[0];
  if (start >= 0) {
    const Entity& s = w.entities[static_cast<size_t>(start)];
    for (int other : w.of_type(s.type))
      if (other != start && edit_distance(w.entities[static_cast<size_t>(other)].name, s.name) <= 2)
        c.add(chain_from(w, q, other), "twin");
  }

  if (ev.answer_entity >= 0) {
    const Entity& a = w.entities[static_cast<size_t>(ev.answer_entity)];
    std::vector<int> same = w.of_type(a.type);
    // Members of an aggregation that lost, near-identical names, then entities that are values
    // of the same predicate elsewhere, then any of the type.
    if (!q.aggregate.empty())
      for (const Fact* f : ev.proof)
        if (f->predicate == q.agg_link && f->subject != ev.answer_entity)
          c.add(w.entities[static_cast<size_t>(f->subject)].name, "member");
    std::stable_sort(same.begin(), same.end(), [&](int x, int y) {
      return edit_distance(w.entities[static_cast<size_t>(x)].name, a.name) <
             edit_distance(w.entities[static_cast<size_t>(y)].name, a.name);
    });
    for (int x : same)
      if (x != a.id && edit_distance(w.entities[static_cast<size_t>(x)].name, a.name) <= 2)
        c.add(w.entities[static_cast<size_t>(x)].name, "near-name");
    std::set<int> objects;
    for (const auto& f : w.facts)
      if (f.predicate == last_predicate(q) && f.object >= 0) objects.insert(f.object);
    for (int x : same)
      if (objects.count(x)) c.add(w.entities[static_cast<size_t>(x)].name, "same-type");
    for (int x : same) c.add(w.entities[static_cast<size_t>(x)].name, "same-type");
    return c.take();
  }

  const ValueKind kind = ev.answer_kind;
  if (kind == ValueKind::kNumber || kind == ValueKind::kYear) {
    const long long v = std::atoll(answer.c_str());
    for (long long d : {1LL, -1LL, 2LL, -2LL, 10LL, -10LL, 3LL, -3LL, 100LL, 5LL, -5LL, 1000LL, 4LL, 6LL, 7LL, 20LL, 50LL})
      if (v + d >= 0) c.add(std::to_string(v + d), "near-value");
    if (v > 0) c.add(std::to_string(v * 10), "near-value");
  }
  if (kind == ValueKind::kDate) {
    for (auto [dy, dm, dd] : std::vector<std::tuple<int, int, int>>{
             {0, 0, 1}, {0, 0, -1}, {0, 1, 0}, {0, -1, 0}, {1, 0, 0}, {-1, 0, 0}, {0, 0, 7}, {10, 0, 0}})
      c.add(shift_date(answer, dy, dm, dd), "near-value");
    // Day and month swapped, and the year alone: not the date.
    if (answer.size() == 10) {
      c.add(answer.substr(0, 4) + "-" + answer.substr(8, 2) + "-" + answer.substr(5, 2), "near-value");
      c.add(answer.substr(0, 4), "partial");
    }
  }
  // Other values of the same attribute, and of other attributes of the same kind.
  for (const auto& f : w.facts)
    if (f.predicate == last_predicate(q) && f.object < 0) c.add(f.value, "same-attribute");
  if (kind == ValueKind::kText) {
    std::string rest = answer;
    for (size_t sp; (sp = rest.find(' ')) != std::string::npos;) c.add(rest = rest.substr(sp + 1), "partial");
    for (const auto& p : w.predicates)
      if (p.kind == ValueKind::kText && p.name != last_predicate(q))
        for (const auto& f : w.facts)
          if (f.predicate == p.name) c.add(f.value, "same-type");
  }
  return c.take();
}

}  // namespace envforge::generators::search
