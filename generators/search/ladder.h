// The ladder of a search world: questions of five levels, each unique by construction and
// proved again by evaluate() before it is kept.
//   1 lookup: one fact of a named entity
//   2 two hops from a named entity
//   3 three hops: an entity described by two or more of its attributes (not named), then two hops
//   4 aggregation or comparison over the entities linked to one (count, earliest, latest,
//     largest, smallest), reached in one hop from a named entity
//   5 four or more hops: an entity described by three or more constraints, chosen so that
//     near-twins and other distractors satisfy some of them, then three or more hops
#pragma once

#include <cstdint>
#include <vector>

#include "generators/search/question.h"

namespace envforge::generators::search {

inline constexpr int kLevels = 5;

// Up to `per_level` distinct questions of every level the world allows, level order. Same
// world and seed, same questions.
std::vector<Question> make_ladder(const World& world, uint64_t seed, int per_level);

// One question of `level` (nullopt-like: level 0 when the world allows none after some tries).
Question make_question(const World& world, uint64_t seed, int level);

}  // namespace envforge::generators::search
