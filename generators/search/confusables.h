// Wrong answers that look right: what the chain gives from near-twins of its start or with one
// constraint dropped, entities of the answer's type (near-identical names first), other values
// of the same attribute, neighbouring numbers and dates, partial answers. Validation proves
// every one fails the verifier.
#pragma once

#include <string>
#include <vector>

#include "generators/search/question.h"

namespace envforge::generators::search {

struct Candidate {
  std::string answer;
  std::string kind;  // "relaxed", "twin", "member", "near-name", "same-type", "same-attribute", "near-value", "partial"
};

// Up to `limit` distinct candidates, none of them an accepted form of the answer (compared by
// case and punctuation), most confusable first.
std::vector<Candidate> confusables(const World& world, const Question& q, const Evaluation& ev,
                                   const std::vector<std::string>& accepted, size_t limit = 16);

// The forms of the answer verify.py must accept: its text (entity name or canonical literal),
// the entity's aliases, and for dates and numbers their other written forms.
std::vector<std::string> accepted_answers(const World& world, const Evaluation& ev);

}  // namespace envforge::generators::search
