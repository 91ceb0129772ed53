// The generated encyclopedia: fictional countries, cities, people, organisations, works and
// events with typed relations and dated attributes, rendered into articles with several
// phrasings per fact. A relation is stated either in its subject's article or in its object's,
// so answers need searching; near-twins (one letter apart, sharing some attributes) sit next to
// many entities so that a question must use every constraint it gives.
#include "generators/search/synthetic_world.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "generators/search/text_forms.h"
#include "generators/trip/rng.h"

namespace envforge::generators::search {
namespace {

using trip::Rng;

// Templates: subject_view has {s} = the fact's subject, {o} = its object or literal text;
// object_view is written from the object's article: {s} = the object, {o} = the subject.
struct Phrasing {
  std::vector<const char*> subject_view;  // stated in the subject's article
  std::vector<const char*> object_view;   // stated in the object's article (relations only)
};

struct Schema {
  Predicate predicate;
  Phrasing phrasing;
};

const std::vector<Schema>& schema() {
  using K = ValueKind;
  static const std::vector<Schema> s = {
      {{"country_region", "country", K::kText, "", "region", "lies in the region of"},
       {{"{s} lies in the region of {o}.", "Geographically, {s} belongs to {o}.", "{s} is a country of {o}."}, {}}},
      {{"located_in", "city", K::kEntity, "country", "country", "lies in"},
       {{"{s} is a city in {o}.", "{s} lies within the borders of {o}.", "The city of {s} belongs to {o}."},
        {"{o} is one of the cities of {s}.", "Among the cities of {s} is {o}."}}},
      {{"city_founded", "city", K::kYear, "", "founding year", "was founded in"},
       {{"{s} was founded in {o}.", "The settlement of {s} dates from {o}.", "Records place the founding of {s} in {o}."}, {}}},
      {{"population", "city", K::kNumber, "", "population", "has a population of"},
       {{"{s} has a population of {o}.", "About {o} people live in {s}.", "The census counts {o} residents in {s}."}, {}}},
      {{"born_in", "person", K::kEntity, "city", "birthplace", "was born in"},
       {{"{s} was born in {o}.", "{s} is a native of {o}.", "{s} grew up in {o}, the city of their birth."},
        {"{s} is the birthplace of {o}.", "{o} was born in {s}."}}},
      {{"birth_date", "person", K::kDate, "", "date of birth", "was born on"},
       {{"{s} was born on {o}.", "{s}'s date of birth is {o}.", "Born {o}, {s} is listed in the civil register."}, {}}},
      {{"occupation", "person", K::kText, "", "occupation", "works as"},
       {{"{s} works as {o}.", "By profession, {s} is {o}.", "{s} made a career as {o}."}, {}}},
      {{"employer", "person", K::kEntity, "organisation", "employer", "works for"},
       {{"{s} works for {o}.", "{s} is employed by {o}.", "{s} holds a position at {o}."},
        {"{s} employs {o}.", "Among the staff of {s} is {o}."}}},
      {{"headquarters", "organisation", K::kEntity, "city", "headquarters city", "is headquartered in"},
       {{"{s} is headquartered in {o}.", "The head office of {s} is in {o}.", "{s} has its seat in {o}."},
        {"{s} hosts the head office of {o}.", "{o} has its headquarters in {s}."}}},
      {{"org_founded", "organisation", K::kYear, "", "founding year", "was founded in"},
       {{"{s} was founded in {o}.", "{s} was established in {o}.", "Since its founding in {o}, {s} has grown steadily."}, {}}},
      {{"founder", "organisation", K::kEntity, "person", "founder", "was founded by"},
       {{"{s} was founded by {o}.", "The founder of {s} is {o}.", "{o} is credited with starting {s}."},
        {"{s} founded {o}.", "{s} is remembered as the founder of {o}."}}},
      {{"industry", "organisation", K::kText, "", "industry", "is active in"},
       {{"{s} is active in {o}.", "{s} operates in the {o} sector.", "The business of {s} is {o}."}, {}}},
      {{"employees", "organisation", K::kNumber, "", "number of employees", "employs"},
       {{"{s} employs {o} people.", "The workforce of {s} numbers {o}.", "{s} has {o} employees."}, {}}},
      {{"author", "work", K::kEntity, "person", "author", "was written by"},
       {{"{s} was written by {o}.", "{o} is the author of {s}.", "{s} is a book by {o}."},
        {"{s} wrote {o}.", "{o} is among the books written by {s}."}}},
      {{"published_year", "work", K::kYear, "", "year of publication", "was published in"},
       {{"{s} was published in {o}.", "{s} first appeared in {o}.", "The first edition of {s} came out in {o}."}, {}}},
      {{"publisher", "work", K::kEntity, "organisation", "publisher", "was published by"},
       {{"{s} was published by {o}.", "{o} is the publisher of {s}.", "{s} appeared under the imprint of {o}."},
        {"{s} published {o}.", "{o} is in the catalogue of {s}."}}},
      {{"genre", "work", K::kText, "", "genre", "is a work of"},
       {{"{s} is a work of {o}.", "Critics file {s} under {o}.", "{s} belongs to the genre of {o}."}, {}}},
      {{"event_location", "event", K::kEntity, "city", "host city", "took place in"},
       {{"{s} took place in {o}.", "{o} hosted {s}.", "{s} was held in {o}."},
        {"{s} hosted {o}.", "{o} was held in {s}."}}},
      {{"event_date", "event", K::kDate, "", "date", "took place on"},
       {{"{s} took place on {o}.", "{s} opened on {o}.", "The date of {s} was {o}."}, {}}},
      {{"organiser", "event", K::kEntity, "organisation", "organiser", "was organised by"},
       {{"{s} was organised by {o}.", "{o} organised {s}.", "The organiser of {s} was {o}."},
        {"{s} organised {o}.", "{o} was an event organised by {s}."}}},
  };
  return s;
}

const Schema& schema_of(const std::string& predicate) {
  for (const auto& s : schema())
    if (s.predicate.name == predicate) return s;
  throw std::logic_error("synthetic world: no predicate " + predicate);
}

const std::vector<std::string> kOnsets = {"b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v",
                                          "br", "dr", "gr", "kr", "tr", "th", "st", "sh", "w", "z", "fl", "pl"};
const std::vector<std::string> kVowels = {"a", "e", "i", "o", "u", "ai", "ea", "ou", "ie", "y"};
const std::vector<std::string> kCodas = {"", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "st", "x"};

std::string capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string word(Rng& r, int syllables) {
  std::string w;
  for (int i = 0; i < syllables; ++i) w += r.pick(kOnsets) + r.pick(kVowels) + (i + 1 == syllables ? r.pick(kCodas) : "");
  return capitalised(w);
}

// One letter changed (a vowel swapped) or a suffix varied: a near-identical name.
std::string twin_name(Rng& r, const std::string& name) {
  std::string t = name;
  std::vector<size_t> vowels;
  for (size_t i = 1; i < t.size(); ++i)
    if (std::string("aeiou").find(t[i]) != std::string::npos) vowels.push_back(i);
  if (!vowels.empty()) {
    const size_t i = r.pick(vowels);
    const std::string swap = "aeiou";
    t[i] = swap[(swap.find(t[i]) + 1 + static_cast<size_t>(r.range(0, 3))) % 5];
  } else {
    t += "e";
  }
  return t;
}

std::string slug(const std::string& name) {
  std::string s;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!s.empty() && s.back() != '-') s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s;
}

std::string iso_date(int year, int month, int day) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

std::string fill(const char* tpl, const std::string& s, const std::string& o) {
  std::string out = tpl;
  for (auto [key, val] : {std::pair<std::string, const std::string*>{"{s}", &s}, {"{o}", &o}}) {
    const size_t at = out.find(key);
    if (at != std::string::npos) out.replace(at, key.size(), *val);
  }
  out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

class Builder {
 public:
  explicit Builder(uint64_t seed) : rng_(seed, "search/world") {
    world_.source = "synthetic";
    world_.seed = seed;
    for (const auto& s : schema()) world_.predicates.push_back(s.predicate);
  }

  World build(const SyntheticWorldOptions& o) {
    const std::vector<std::string> regions = {"the Northern Reach", "the Amber Coast", "the Highlands", "the Lowlands"};
    for (int i = 0; i < o.countries; ++i) {
      const int c = add("country", unique_name([&] { return word(rng_, 2) + (rng_.chance(0.5) ? "ia" : ""); }));
      literal(c, "country_region", rng_.pick(regions));
    }
    const auto countries = world_.of_type("country");
    for (int i = 0; i < o.cities; ++i) {
      const int c = add("city", unique_name([&] { return word(rng_, 2); }));
      relation(c, "located_in", rng_.pick(countries));
      literal(c, "city_founded", std::to_string(rng_.range(1100, 1800)));
      literal(c, "population", std::to_string(rng_.range(4, 900) * 1000 + rng_.range(0, 999)));
    }
    twins("city", o.twin_share);
    const auto cities = world_.of_type("city");
    const std::vector<std::string> jobs = {"an engineer", "a cartographer", "a composer", "a chemist", "a printer",
                                           "an architect", "a botanist", "a merchant", "a physician", "a teacher"};
    for (int i = 0; i < o.people; ++i) {
      const int p = add("person", unique_name([&] { return word(rng_, 2) + " " + word(rng_, 2 + rng_.range(0, 1)); }));
      relation(p, "born_in", rng_.pick(cities));
      literal(p, "birth_date", iso_date(static_cast<int>(rng_.range(1800, 1960)), static_cast<int>(rng_.range(1, 12)),
                                        static_cast<int>(rng_.range(1, 28))));
      literal(p, "occupation", rng_.pick(jobs));
    }
    const std::vector<std::string> org_kinds = {"Industries", "Press", "Institute", "Company", "Guild", "Works"};
    const std::vector<std::string> sectors = {"shipbuilding", "publishing", "textiles", "optics", "mining",
                                              "railways", "brewing", "instrument making"};
    const auto people = world_.of_type("person");
    for (int i = 0; i < o.organisations; ++i) {
      const int g = add("organisation", unique_name([&] { return word(rng_, 2) + " " + rng_.pick(org_kinds); }));
      relation(g, "headquarters", rng_.pick(cities));
      literal(g, "org_founded", std::to_string(rng_.range(1820, 1990)));
      relation(g, "founder", rng_.pick(people));
      literal(g, "industry", rng_.pick(sectors));
      literal(g, "employees", std::to_string(rng_.range(12, 40000)));
    }
    twins("organisation", o.twin_share);
    const auto orgs = world_.of_type("organisation");
    for (int p : people) relation(p, "employer", rng_.pick(orgs));
    twins("person", o.twin_share);
    const std::vector<std::string> adjectives = {"Glass", "Silent", "Northern", "Last", "Copper", "Hidden", "Winter",
                                                 "Scarlet", "Lonely", "Iron", "Paper", "Distant"};
    const std::vector<std::string> nouns = {"Orchard", "Harbour", "Lantern", "Cartographer", "Tide", "Garden",
                                            "Bridge", "Letters", "Compass", "Archive", "Season", "Map"};
    const std::vector<std::string> genres = {"historical fiction", "poetry", "travel writing", "crime fiction",
                                             "natural history", "biography"};
    const auto all_people = world_.of_type("person");
    for (int i = 0; i < o.works; ++i) {
      const int w = add("work", unique_name([&] { return "The " + rng_.pick(adjectives) + " " + rng_.pick(nouns); }));
      relation(w, "author", rng_.pick(all_people));
      literal(w, "published_year", std::to_string(rng_.range(1850, 2010)));
      relation(w, "publisher", rng_.pick(orgs));
      literal(w, "genre", rng_.pick(genres));
    }
    const std::vector<std::string> event_kinds = {"Fair", "Exhibition", "Congress", "Regatta", "Festival"};
    const auto all_orgs = world_.of_type("organisation");
    for (int i = 0; i < o.events; ++i) {
      const int city = rng_.pick(cities);
      const int e = add("event", unique_name([&] {
        return world_.entities[static_cast<size_t>(city)].name + " " + rng_.pick(adjectives) + " " + rng_.pick(event_kinds);
      }));
      relation(e, "event_location", city);
      literal(e, "event_date", iso_date(static_cast<int>(rng_.range(1850, 2010)), static_cast<int>(rng_.range(1, 12)),
                                        static_cast<int>(rng_.range(1, 28))));
      relation(e, "organiser", rng_.pick(all_orgs));
    }
    render();
    world_.index();
    return std::move(world_);
  }

 private:
  template <class F>
  std::string unique_name(F make) {
    for (int tries = 0; tries < 50; ++tries) {
      std::string n = make();
      if (names_.insert(n).second) return n;
    }
    std::string n = make() + " " + std::to_string(names_.size());
    names_.insert(n);
    return n;
  }

  int add(const std::string& type, const std::string& name) {
    Entity e;
    e.id = static_cast<int>(world_.entities.size());
    e.type = type;
    e.name = name;
    std::string id = slug(name);
    while (!doc_ids_.insert(id).second) id += "-" + std::to_string(e.id);
    e.doc = id;
    world_.entities.push_back(e);
    return e.id;
  }

  void literal(int s, const std::string& predicate, const std::string& value) {
    Fact f;
    f.subject = s;
    f.predicate = predicate;
    f.value = value;
    world_.facts.push_back(f);
  }

  void relation(int s, const std::string& predicate, int object) {
    Fact f;
    f.subject = s;
    f.predicate = predicate;
    f.object = object;
    world_.facts.push_back(f);
  }

  // Near-identical entities: a twin of a share of the type's entities, with a name one letter
  // away, the same values for some of the original's facts and fresh values for the others.
  void twins(const std::string& type, double share) {
    const auto originals = world_.of_type(type);
    for (int orig : originals) {
      if (!rng_.chance(share)) continue;
      const std::string name = twin_name(rng_, world_.entities[static_cast<size_t>(orig)].name);
      if (!names_.insert(name).second) continue;
      const int t = add(type, name);
      std::vector<Fact> own;
      for (const auto& f : world_.facts)
        if (f.subject == orig) own.push_back(f);
      for (size_t i = 0; i < own.size(); ++i) {
        Fact f = own[i];
        f.subject = t;
        // Keep about half the facts equal; vary the rest among values of the same predicate.
        if (rng_.chance(0.5)) {
          std::vector<const Fact*> same;
          for (const auto& g : world_.facts)
            if (g.predicate == f.predicate && g.subject != orig) same.push_back(&g);
          if (!same.empty()) {
            const Fact* pick = same[static_cast<size_t>(rng_.range(0, static_cast<int64_t>(same.size()) - 1))];
            f.object = pick->object;
            f.value = pick->value;
          }
        }
        world_.facts.push_back(f);
      }
    }
  }

  std::string literal_text(const Predicate& p, const std::string& v) {
    if (p.kind == ValueKind::kDate) {
      switch (rng_.range(0, 2)) {
        case 0: return date_words(v);
        case 1: return date_words_us(v);
        default: return v;
      }
    }
    if (p.kind == ValueKind::kNumber && rng_.chance(0.5)) return with_thousands(v);
    return v;
  }

  // Every fact becomes one sentence of one article: the subject's, or for a relation sometimes
  // the object's. Its sentence is its evidence.
  void render() {
    std::vector<std::vector<std::string>> sentences(world_.entities.size());
    for (auto& f : world_.facts) {
      const Schema& s = schema_of(f.predicate);
      const Entity& subject = world_.entities[static_cast<size_t>(f.subject)];
      const bool in_object = f.object >= 0 && !s.phrasing.object_view.empty() && rng_.chance(0.4);
      std::string sentence;
      if (in_object) {
        const Entity& object = world_.entities[static_cast<size_t>(f.object)];
        sentence = fill(rng_.pick(s.phrasing.object_view), object.name, subject.name);
        f.doc = object.doc;
        sentences[static_cast<size_t>(f.object)].push_back(sentence);
      } else {
        const std::string o = f.object >= 0 ? world_.entities[static_cast<size_t>(f.object)].name
                                            : literal_text(s.predicate, f.value);
        sentence = fill(rng_.pick(s.phrasing.subject_view), subject.name, o);
        f.doc = subject.doc;
        sentences[static_cast<size_t>(f.subject)].push_back(sentence);
      }
      f.evidence = sentence;
    }
    for (const auto& e : world_.entities) {
      auto& lines = sentences[static_cast<size_t>(e.id)];
      rng_.shuffle(lines);
      Document d;
      d.id = e.doc;
      d.title = e.name;
      d.text = e.name + "\n\n" + capitalised(e.name + " is a " + e.type + " described in this encyclopedia.") + "\n";
      // Two to three sentences a paragraph, one sentence a line: find() returns lines.
      for (size_t i = 0; i < lines.size(); ++i) d.text += (i % 3 == 0 ? "\n" : "") + lines[i] + "\n";
      world_.documents.push_back(std::move(d));
    }
  }

  Rng rng_;
  World world_;
  std::set<std::string> names_, doc_ids_;
};

}  // namespace

Phrasings synthetic_phrasings(const std::string& predicate) {
  const Schema& s = schema_of(predicate);
  return {{s.phrasing.subject_view.begin(), s.phrasing.subject_view.end()},
          {s.phrasing.object_view.begin(), s.phrasing.object_view.end()}};
}

World synthetic_world(uint64_t seed, const SyntheticWorldOptions& options) { return Builder(seed).build(options); }

}  // namespace envforge::generators::search
