#include "generators/search/world.h"

namespace envforge::generators::search {

const char* value_kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::kEntity: return "entity";
    case ValueKind::kText: return "text";
    case ValueKind::kNumber: return "number";
    case ValueKind::kYear: return "year";
    case ValueKind::kDate: return "date";
  }
  return "text";
}

void World::index() {
  by_subject_.clear();
  doc_index_.clear();
  predicate_index_.clear();
  for (const auto& f : facts) by_subject_[{f.subject, f.predicate}].push_back(&f);
  for (size_t i = 0; i < documents.size(); ++i) doc_index_[documents[i].id] = i;
  for (size_t i = 0; i < predicates.size(); ++i) predicate_index_[predicates[i].name] = i;
}

const Predicate* World::predicate(const std::string& name) const {
  const auto it = predicate_index_.find(name);
  return it == predicate_index_.end() ? nullptr : &predicates[it->second];
}

const std::vector<const Fact*>& World::facts_of(int subject, const std::string& predicate) const {
  static const std::vector<const Fact*> none;
  const auto it = by_subject_.find({subject, predicate});
  return it == by_subject_.end() ? none : it->second;
}

std::string World::value_text(const Fact& f) const {
  return f.object >= 0 ? entities[static_cast<size_t>(f.object)].name : f.value;
}

const Document* World::document(const std::string& id) const {
  const auto it = doc_index_.find(id);
  return it == doc_index_.end() ? nullptr : &documents[it->second];
}

std::vector<int> World::of_type(const std::string& type) const {
  std::vector<int> out;
  for (const auto& e : entities)
    if (e.type == type) out.push_back(e.id);
  return out;
}

}  // namespace envforge::generators::search
