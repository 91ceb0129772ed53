#include "generators/search/question.h"

#include <algorithm>
#include <cstdlib>

#include "generators/search/text_forms.h"

namespace envforge::generators::search {
namespace {

using nlohmann::json;

bool holds(const World& w, int e, const Constraint& c) {
  for (const Fact* f : w.facts_of(e, c.predicate))
    if (c.object >= 0 ? f->object == c.object : (f->object < 0 && f->value == c.value)) return true;
  return false;
}

const Fact* constraint_fact(const World& w, int e, const Constraint& c) {
  for (const Fact* f : w.facts_of(e, c.predicate))
    if (c.object >= 0 ? f->object == c.object : (f->object < 0 && f->value == c.value)) return f;
  return nullptr;
}

std::string constraint_text(const World& w, const Constraint& c) {
  if (c.object >= 0 && static_cast<size_t>(c.object) < w.entities.size())
    return w.entities[static_cast<size_t>(c.object)].name;
  const Predicate* p = w.predicate(c.predicate);
  return p && p->kind == ValueKind::kDate ? date_words(c.value) : c.value;
}

// -1, 0, 1 comparing two literal values of one kind.
int compare_values(ValueKind kind, const std::string& a, const std::string& b) {
  if (kind == ValueKind::kNumber || kind == ValueKind::kYear) {
    const double x = std::strtod(a.c_str(), nullptr), y = std::strtod(b.c_str(), nullptr);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return a < b ? -1 : (a > b ? 1 : 0);
}

}  // namespace

json Question::to_json() const {
  json c = json::array();
  for (const auto& x : constraints) {
    json j = {{"predicate", x.predicate}};
    if (x.object >= 0) j["object"] = x.object;
    else j["value"] = x.value;
    c.push_back(j);
  }
  json j = {{"level", level}, {"hops", hops}};
  if (start >= 0) j["start"] = start;
  else j["describe"] = {{"type", start_type}, {"constraints", c}};
  if (!aggregate.empty()) j["aggregate"] = {{"op", aggregate}, {"type", agg_type}, {"link", agg_link}, {"by", agg_by}};
  return j;
}

std::string plural_of(const std::string& type) {
  if (type == "person") return "people";
  if (type == "city") return "cities";
  if (!type.empty() && type.back() == 's') return type + "es";
  return type + "s";
}

Evaluation evaluate(const World& w, const Question& q) {
  Evaluation ev;
  auto fail = [&](const std::string& why) {
    if (ev.problem.empty()) ev.problem = why;
    return ev;
  };
  const int n = static_cast<int>(w.entities.size());
  if (q.start >= 0) {
    if (q.start >= n) return fail("the start entity " + std::to_string(q.start) + " does not exist");
    ev.start_matches = {q.start};
  } else {
    if (q.constraints.empty()) return fail("a described start needs at least one constraint");
    for (int e : w.of_type(q.start_type)) {
      bool all = true;
      for (const auto& c : q.constraints) all = all && holds(w, e, c);
      if (all) ev.start_matches.push_back(e);
    }
    if (ev.start_matches.size() != 1)
      return fail("ambiguous start: " + std::to_string(ev.start_matches.size()) + " " + plural_of(q.start_type) +
                  " fit the description");
    for (const auto& c : q.constraints) ev.proof.push_back(constraint_fact(w, ev.start_matches[0], c));
  }

  int current = ev.start_matches[0];
  const Fact* last = nullptr;
  for (size_t k = 0; k < q.hops.size(); ++k) {
    const Predicate* p = w.predicate(q.hops[k]);
    if (!p) return fail("unknown predicate '" + q.hops[k] + "'");
    const auto& fs = w.facts_of(current, q.hops[k]);
    if (fs.size() != 1) {
      for (const Fact* f : fs) ev.answers.insert(w.value_text(*f));
      return fail("hop " + std::to_string(k + 1) + " (" + q.hops[k] + ") of " +
                  w.entities[static_cast<size_t>(current)].name + " has " + std::to_string(fs.size()) + " values");
    }
    last = fs[0];
    ev.proof.push_back(last);
    if (last->object < 0 && k + 1 < q.hops.size())
      return fail("hop " + std::to_string(k + 1) + " (" + q.hops[k] + ") reaches a literal before the chain ends");
    if (last->object >= 0) current = last->object;
  }

  if (q.aggregate.empty()) {
    if (!last) return fail("a question without aggregation needs at least one hop");
    ev.answers.insert(w.value_text(*last));
    ev.answer_kind = w.predicate(last->predicate)->kind;
    if (last->object >= 0) ev.answer_entity = last->object;
    return ev;
  }

  if (last && last->object < 0) return fail("an aggregation needs the chain to end at an entity");
  const Predicate* link = w.predicate(q.agg_link);
  if (!link) return fail("unknown predicate '" + q.agg_link + "'");
  std::vector<int> members;
  std::vector<const Fact*> link_facts;
  for (int x : w.of_type(q.agg_type))
    for (const Fact* f : w.facts_of(x, q.agg_link))
      if (f->object == current) {
        members.push_back(x);
        link_facts.push_back(f);
        break;
      }
  ev.proof.insert(ev.proof.end(), link_facts.begin(), link_facts.end());
  if (q.aggregate == "count") {
    ev.answers.insert(std::to_string(members.size()));
    ev.answer_kind = ValueKind::kNumber;
    return ev;
  }
  const Predicate* by = w.predicate(q.agg_by);
  if (!by || by->kind == ValueKind::kEntity || by->kind == ValueKind::kText)
    return fail("cannot compare by '" + q.agg_by + "'");
  const bool lowest = q.aggregate == "earliest" || q.aggregate == "smallest";
  if (!lowest && q.aggregate != "latest" && q.aggregate != "largest")
    return fail("unknown aggregation '" + q.aggregate + "'");
  if (members.size() < 2) return fail("an aggregation over " + std::to_string(members.size()) + " entities");
  int best = -1;
  const Fact* best_fact = nullptr;
  bool tie = false;
  for (int x : members) {
    const auto& fs = w.facts_of(x, q.agg_by);
    if (fs.size() != 1)
      return fail(w.entities[static_cast<size_t>(x)].name + " has " + std::to_string(fs.size()) + " values of " +
                  q.agg_by);
    ev.proof.push_back(fs[0]);
    if (!best_fact) {
      best = x, best_fact = fs[0];
      continue;
    }
    const int c = compare_values(by->kind, fs[0]->value, best_fact->value);
    if (c == 0) tie = true;
    if (lowest ? c < 0 : c > 0) best = x, best_fact = fs[0], tie = false;
  }
  for (int x : members)
    if (x != best && compare_values(by->kind, w.facts_of(x, q.agg_by)[0]->value, best_fact->value) == 0)
      ev.answers.insert(w.entities[static_cast<size_t>(x)].name);
  ev.answers.insert(w.entities[static_cast<size_t>(best)].name);
  ev.answer_kind = ValueKind::kEntity;
  ev.answer_entity = best;
  if (tie || ev.answers.size() != 1) return fail("a tie for the " + q.aggregate + " " + q.agg_by);
  return ev;
}

std::string render_question(const World& w, const Question& q) {
  std::string subject;
  if (q.start >= 0 && static_cast<size_t>(q.start) < w.entities.size()) {
    subject = w.entities[static_cast<size_t>(q.start)].name;
  } else {
    subject = "the " + q.start_type + " that ";
    for (size_t i = 0; i < q.constraints.size(); ++i) {
      const Predicate* p = w.predicate(q.constraints[i].predicate);
      if (i) subject += i + 1 == q.constraints.size() ? " and " : ", ";
      subject += (p ? p->relative : q.constraints[i].predicate) + " " + constraint_text(w, q.constraints[i]);
    }
  }
  for (const auto& hop : q.hops) {
    const Predicate* p = w.predicate(hop);
    subject = "the " + (p ? p->noun : hop) + " of " + subject;
  }
  if (q.aggregate.empty()) return "What is " + subject + "?";
  const Predicate* link = w.predicate(q.agg_link);
  const std::string link_noun = link ? link->noun : q.agg_link;
  if (q.aggregate == "count")
    return "How many " + plural_of(q.agg_type) + " have " + subject + " as their " + link_noun + "?";
  const Predicate* by = w.predicate(q.agg_by);
  return "Which " + q.agg_type + " with " + subject + " as its " + link_noun + " has the " + q.aggregate + " " +
         (by ? by->noun : q.agg_by) + "?";
}

}  // namespace envforge::generators::search
