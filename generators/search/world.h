// A search world: documents (what the tools search and open) and the structured facts behind
// them (what questions are built from and checked against). Every fact names the document
// that states it and the exact text that states it, so a task's proof can be checked through
// the tools. Worlds come from a generated encyclopedia (synthetic_world.h), the machine's
// Debian package records (package_world.h) or a user's documents (corpus_world.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace envforge::generators::search {

// What a fact's value is: another entity, or a literal compared after normalisation.
enum class ValueKind { kEntity, kText, kNumber, kYear, kDate };
const char* value_kind_name(ValueKind k);

// A predicate of the world's schema and how questions speak of it.
struct Predicate {
  std::string name;          // "born_in"
  std::string subject_type;  // "person"
  ValueKind kind = ValueKind::kText;
  std::string object_type;   // for kEntity: the type of its objects
  std::string noun;          // "birthplace": "the birthplace of X"
  std::string relative;      // "was born in": "the person who was born in Y" (describes a subject)
  bool single = true;        // at most one value per subject (multi-valued ones hop only where one)
};

struct Entity {
  int id = 0;
  std::string type;                  // "person", "organisation", "package", ...
  std::string name;
  std::vector<std::string> aliases;  // other names an answer may use
  std::string doc;                   // its own article, if any
};

struct Fact {
  int subject = 0;
  std::string predicate;
  int object = -1;        // entity id for kEntity
  std::string value;      // literal value (canonical: numbers as digits, dates ISO, years as digits)
  std::string doc;        // a document that states it
  std::string evidence;   // the exact text of that document that states it
};

struct Document {
  std::string id;
  std::string title;
  std::string text;
};

// Move-only: the lookups point into its vectors.
struct World {
  World() = default;
  World(World&&) = default;
  World& operator=(World&&) = default;
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  std::string source;   // "synthetic", "packages", "corpus"
  uint64_t seed = 0;
  std::vector<Predicate> predicates;
  std::vector<Entity> entities;  // entities[i].id == i
  std::vector<Fact> facts;
  std::vector<Document> documents;

  // Call after filling: builds the lookups below.
  void index();
  const Predicate* predicate(const std::string& name) const;
  // Facts with this subject and predicate (in the order added).
  const std::vector<const Fact*>& facts_of(int subject, const std::string& predicate) const;
  // The fact's value as an answer text: the object's name or the literal.
  std::string value_text(const Fact& f) const;
  const Document* document(const std::string& id) const;
  std::vector<int> of_type(const std::string& type) const;

 private:
  std::map<std::pair<int, std::string>, std::vector<const Fact*>> by_subject_;
  std::map<std::string, size_t> doc_index_;
  std::map<std::string, size_t> predicate_index_;
};

}  // namespace envforge::generators::search
