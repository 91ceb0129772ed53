// A procedural encyclopedia of fictional entities (see synthetic_world.cc).
#pragma once

#include <cstdint>

#include "generators/search/world.h"

namespace envforge::generators::search {

struct SyntheticWorldOptions {
  int countries = 12, cities = 24, people = 60, organisations = 28, works = 60, events = 20;
  double twin_share = 0.3;  // share of cities, people and organisations given a near-identical twin
};

// How the encyclopedia words a predicate: templates with {s} and {o}. subject_view sentences
// stand in the subject's article ({s} subject, {o} object or value), object_view ones in the
// object's article ({s} object, {o} subject). For solvers written against the encyclopedia.
struct Phrasings {
  std::vector<std::string> subject_view, object_view;
};
Phrasings synthetic_phrasings(const std::string& predicate);

// Same seed, same world.
World synthetic_world(uint64_t seed, const SyntheticWorldOptions& options = {});

}  // namespace envforge::generators::search
