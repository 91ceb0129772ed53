// A search question as a program over the world's facts: where the chain starts (a named
// entity, or an entity described by constraints), the predicates it follows, and optionally
// an aggregation over the entities linked to where the chain ends. The same program renders
// the question's text, is evaluated against the structured facts (the uniqueness check), and
// yields the proof: the facts, and the documents that state them.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "generators/search/world.h"

namespace envforge::generators::search {

// "the entity's `predicate` is this value": an entity (object) or a literal (value).
struct Constraint {
  std::string predicate;
  int object = -1;
  std::string value;
};

struct Question {
  int level = 1;
  int start = -1;                        // a named start entity, or -1: described
  std::string start_type;                // described start: its type ...
  std::vector<Constraint> constraints;   // ... and what must all hold for it
  std::vector<std::string> hops;         // predicates followed from the start, in order
  // Aggregation over {x of agg_type : x.agg_link == the entity the hops reach}:
  // "count", or "earliest"/"latest"/"largest"/"smallest" by the attribute agg_by.
  std::string aggregate;
  std::string agg_type, agg_link, agg_by;

  nlohmann::json to_json() const;
};

struct Evaluation {
  std::vector<int> start_matches;        // entities that fit the start (named: itself)
  std::set<std::string> answers;         // answer texts the facts give
  std::vector<const Fact*> proof;        // when unique: every fact the answer rests on
  ValueKind answer_kind = ValueKind::kText;
  int answer_entity = -1;                // the answer when it is an entity
  std::string problem;                   // empty: exactly one answer, from exactly one start

  bool unique() const { return problem.empty(); }
};

// Evaluates `q` against every fact of the world. Never throws for a malformed program: the
// problem says what is wrong.
Evaluation evaluate(const World& world, const Question& q);

// The templated question text ("What is the birthplace of the founder of Orvane Industries?").
std::string render_question(const World& world, const Question& q);

// Plural of an entity type for question text.
std::string plural_of(const std::string& type);

}  // namespace envforge::generators::search
