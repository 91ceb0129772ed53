#include "generators/search/ladder.h"

#include <algorithm>
#include <set>
#include <string>

#include "generators/trip/rng.h"

namespace envforge::generators::search {
namespace {

using trip::Rng;

constexpr int kTries = 60;

int pick_index(Rng& r, size_t n) { return static_cast<int>(r.range(0, static_cast<int64_t>(n) - 1)); }

// Predicates with exactly one fact for `e`, optionally only entity-valued ones.
std::vector<const Fact*> single_facts(const World& w, int e, bool entity_only) {
  std::vector<const Fact*> out;
  for (const auto& p : w.predicates) {
    if (p.subject_type != w.entities[static_cast<size_t>(e)].type) continue;
    if (entity_only && p.kind != ValueKind::kEntity) continue;
    const auto& fs = w.facts_of(e, p.name);
    if (fs.size() == 1) out.push_back(fs[0]);
  }
  return out;
}

// A random walk of `hops` single-valued steps from `e`; the last step may reach a literal.
bool walk(const World& w, Rng& r, int e, size_t hops, std::vector<std::string>& out) {
  out.clear();
  int at = e;
  for (size_t k = 0; k < hops; ++k) {
    const bool last = k + 1 == hops;
    auto fs = single_facts(w, at, !last);
    if (last) {  // prefer entity answers half the time where both exist
      std::vector<const Fact*> entity;
      for (const Fact* f : fs)
        if (f->object >= 0) entity.push_back(f);
      if (!entity.empty() && r.chance(0.5)) fs = entity;
    }
    if (fs.empty()) return false;
    const Fact* f = fs[static_cast<size_t>(pick_index(r, fs.size()))];
    out.push_back(f->predicate);
    if (f->object >= 0) at = f->object;
  }
  return true;
}

Constraint constraint_of(const Fact& f) { return {f.predicate, f.object, f.object >= 0 ? "" : f.value}; }

size_t matches(const World& w, const Question& q) {
  Question probe = q;
  probe.hops.clear();
  probe.aggregate.clear();
  return evaluate(w, probe).start_matches.size();
}

// Constraints describing `e` without naming it: `want` or more of its facts (never one of the
// predicates in `avoid`), unique among its type; with `necessary`, each constraint must rule out
// someone (dropping it lets another entity fit).
bool describe(const World& w, Rng& r, int e, size_t want, const std::set<std::string>& avoid, bool necessary,
              Question& q) {
  std::vector<const Fact*> pool;
  for (const auto& p : w.predicates) {
    if (p.subject_type != w.entities[static_cast<size_t>(e)].type || avoid.count(p.name)) continue;
    for (const Fact* f : w.facts_of(e, p.name)) pool.push_back(f);
  }
  if (pool.size() < want) return false;
  q.start = -1;
  q.start_type = w.entities[static_cast<size_t>(e)].type;
  for (int attempt = 0; attempt < 8; ++attempt) {
    r.shuffle(pool);
    q.constraints.clear();
    std::set<std::string> used;
    for (const Fact* f : pool) {
      if (used.count(f->predicate)) continue;
      q.constraints.push_back(constraint_of(*f));
      used.insert(f->predicate);
      if (q.constraints.size() >= want && matches(w, q) == 1) break;
    }
    if (q.constraints.size() < want || matches(w, q) != 1) continue;
    if (!necessary) return true;
    bool all_needed = true;
    for (size_t i = 0; i < q.constraints.size() && all_needed; ++i) {
      Question fewer = q;
      fewer.constraints.erase(fewer.constraints.begin() + static_cast<std::ptrdiff_t>(i));
      all_needed = matches(w, fewer) > 1;
    }
    if (all_needed) return true;
  }
  return false;
}

bool lookup(const World& w, Rng& r, Question& q) {
  const int e = pick_index(r, w.entities.size());
  auto fs = single_facts(w, e, false);
  if (fs.empty()) return false;
  q.start = e;
  q.hops = {fs[static_cast<size_t>(pick_index(r, fs.size()))]->predicate};
  return true;
}

bool two_hops(const World& w, Rng& r, Question& q) {
  q.start = pick_index(r, w.entities.size());
  return walk(w, r, q.start, 2, q.hops);
}

bool described_chain(const World& w, Rng& r, size_t constraints, size_t hops, bool necessary, Question& q) {
  const int e = pick_index(r, w.entities.size());
  if (!walk(w, r, e, hops, q.hops)) return false;
  return describe(w, r, e, constraints, {q.hops.front()}, necessary, q);
}

bool aggregation(const World& w, Rng& r, Question& q) {
  // A link predicate and the entity many others point at through it.
  std::vector<const Predicate*> links;
  for (const auto& p : w.predicates)
    if (p.kind == ValueKind::kEntity) links.push_back(&p);
  if (links.empty()) return false;
  const Predicate& link = *links[static_cast<size_t>(pick_index(r, links.size()))];
  std::vector<const Fact*> pointing;
  for (const auto& f : w.facts)
    if (f.predicate == link.name) pointing.push_back(&f);
  if (pointing.empty()) return false;
  const int target = pointing[static_cast<size_t>(pick_index(r, pointing.size()))]->object;
  // Reach the target in one hop from a named entity that points at it with a single fact.
  std::vector<const Fact*> into;
  for (const auto& f : w.facts)
    if (f.object == target && w.facts_of(f.subject, f.predicate).size() == 1) into.push_back(&f);
  if (into.empty()) return false;
  const Fact* hop = into[static_cast<size_t>(pick_index(r, into.size()))];
  q.start = hop->subject;
  q.hops = {hop->predicate};
  q.agg_type = link.subject_type;
  q.agg_link = link.name;
  std::vector<const Predicate*> comparable;
  for (const auto& p : w.predicates)
    if (p.subject_type == link.subject_type &&
        (p.kind == ValueKind::kYear || p.kind == ValueKind::kDate || p.kind == ValueKind::kNumber))
      comparable.push_back(&p);
  if (comparable.empty() || r.chance(0.35)) {
    q.aggregate = "count";
    return true;
  }
  const Predicate& by = *comparable[static_cast<size_t>(pick_index(r, comparable.size()))];
  q.agg_by = by.name;
  const bool low = r.chance(0.5);
  q.aggregate = by.kind == ValueKind::kNumber ? (low ? "smallest" : "largest") : (low ? "earliest" : "latest");
  return true;
}

bool propose(const World& w, Rng& r, int level, Question& q) {
  q = Question{};
  q.level = level;
  switch (level) {
    case 1: return lookup(w, r, q);
    case 2: return two_hops(w, r, q);
    case 3: return described_chain(w, r, 2, 2, false, q);
    case 4: return aggregation(w, r, q);
    case 5: return described_chain(w, r, 3, 3 + static_cast<size_t>(r.range(0, 1)), true, q) ||
                   described_chain(w, r, 3, 3, false, q);
    default: return false;
  }
}

}  // namespace

Question make_question(const World& w, uint64_t seed, int level) {
  Rng r(seed, "search/question/" + std::to_string(level));
  Question q;
  for (int t = 0; t < kTries && !w.entities.empty(); ++t)
    if (propose(w, r, level, q) && evaluate(w, q).unique()) return q;
  q = Question{};
  q.level = 0;
  return q;
}

std::vector<Question> make_ladder(const World& w, uint64_t seed, int per_level) {
  std::vector<Question> out;
  if (w.entities.empty()) return out;
  for (int level = 1; level <= kLevels; ++level) {
    Rng r(seed, "search/ladder/" + std::to_string(level));
    std::set<std::string> seen;
    int made = 0;
    for (int t = 0; t < kTries * per_level && made < per_level; ++t) {
      Question q;
      if (!propose(w, r, level, q) || !evaluate(w, q).unique()) continue;
      if (!seen.insert(q.to_json().dump()).second) continue;
      out.push_back(std::move(q));
      ++made;
    }
  }
  return out;
}

}  // namespace envforge::generators::search
