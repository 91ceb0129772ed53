#include "generators/search/package_world.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "generators/trip/rng.h"

namespace envforge::generators::search {
namespace {

std::string trimmed(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// "libc6 (>= 2.34), libfoo:any | libbar" -> {"libc6", "libfoo"}
std::vector<std::string> dependency_names(const std::string& field) {
  std::vector<std::string> out;
  std::stringstream ss(field);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::string first = item.substr(0, item.find('|'));
    first = trimmed(first.substr(0, first.find('(')));
    first = first.substr(0, first.find(':'));
    first = trimmed(first);
    if (!first.empty() && std::find(out.begin(), out.end(), first) == out.end()) out.push_back(first);
  }
  return out;
}

PackageRecord record_of(const std::map<std::string, std::string>& f) {
  auto get = [&](const char* k) {
    const auto it = f.find(k);
    return it == f.end() ? std::string() : it->second;
  };
  PackageRecord r;
  r.name = get("Package");
  r.version = get("Version");
  r.section = get("Section");
  r.priority = get("Priority");
  r.architecture = get("Architecture");
  r.installed_size = get("Installed-Size");
  const std::string m = get("Maintainer");
  const size_t lt = m.find('<');
  r.maintainer = trimmed(m.substr(0, lt));
  if (lt != std::string::npos) r.email = trimmed(m.substr(lt + 1, m.find('>', lt) - lt - 1));
  r.source = trimmed(get("Source").substr(0, get("Source").find('(')));
  if (r.source.empty()) r.source = r.name;
  const std::string d = get("Description");
  const size_t nl = d.find('\n');
  r.summary = trimmed(d.substr(0, nl));
  if (nl != std::string::npos) r.description = d.substr(nl + 1);
  for (const char* k : {"Pre-Depends", "Depends"})
    for (auto& n : dependency_names(get(k)))
      if (std::find(r.depends.begin(), r.depends.end(), n) == r.depends.end()) r.depends.push_back(n);
  return r;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::vector<PackageRecord> read_dpkg_status(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("package records " + path + ": cannot be read");
  std::vector<PackageRecord> out;
  std::map<std::string, std::string> fields;
  std::string line, key;
  auto flush = [&] {
    const auto st = fields.find("Status");
    if (st != fields.end() && st->second.find("installed") != std::string::npos &&
        st->second.find("not-installed") == std::string::npos && fields.count("Package")) {
      PackageRecord r = record_of(fields);
      if (!r.name.empty() && !r.version.empty() && !r.maintainer.empty()) out.push_back(std::move(r));
    }
    fields.clear();
    key.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      flush();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !key.empty()) {
      const std::string t = trimmed(line);
      fields[key] += "\n" + (t == "." ? std::string() : t);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;  // not a field: skipped, like dpkg's own readers
    key = line.substr(0, colon);
    fields[key] = trimmed(line.substr(colon + 1));
  }
  flush();
  if (out.empty()) throw std::runtime_error("package records " + path + ": no installed package found");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
            out.end());
  return out;
}

World package_world(const std::vector<PackageRecord>& packages, uint64_t seed) {
  using K = ValueKind;
  World w;
  w.source = "packages";
  w.seed = seed;
  w.predicates = {
      {"version", "package", K::kText, "", "installed version", "has the installed version", true},
      {"section", "package", K::kEntity, "section", "section", "is in the section", true},
      {"maintainer", "package", K::kEntity, "maintainer", "maintainer", "is maintained by", true},
      {"depends", "package", K::kEntity, "package", "dependency", "depends on", false},
      {"installed_size", "package", K::kNumber, "", "installed size in KiB", "has an installed size in KiB of", true},
      {"priority", "package", K::kText, "", "priority", "has the priority", true},
      {"architecture", "package", K::kText, "", "architecture", "is built for the architecture", true},
      {"source", "package", K::kText, "", "source package", "is built from the source package", true},
      {"email", "maintainer", K::kText, "", "e-mail address", "can be reached at", true},
  };
  trip::Rng rng(seed, "search/packages");
  std::map<std::string, int> package_ids, maintainer_ids, section_ids;
  auto add = [&](const std::string& type, const std::string& name, const std::string& doc) {
    Entity e;
    e.id = static_cast<int>(w.entities.size());
    e.type = type;
    e.name = name;
    e.doc = doc;
    w.entities.push_back(e);
    return e.id;
  };
  for (const auto& p : packages) package_ids[p.name] = add("package", p.name, "pkg/" + p.name);
  for (const auto& p : packages) {
    if (!maintainer_ids.count(p.maintainer)) {
      const int id = add("maintainer", p.maintainer, "maintainer/" + std::to_string(maintainer_ids.size()));
      maintainer_ids[p.maintainer] = id;
      if (!p.email.empty()) w.entities[static_cast<size_t>(id)].aliases.push_back(p.email);
    }
    if (!p.section.empty() && !section_ids.count(p.section)) section_ids[p.section] = add("section", p.section, "");
  }
  std::map<int, std::vector<std::string>> maintained;  // maintainer -> package names
  std::map<int, std::string> maintainer_email;
  for (const auto& p : packages) {
    const int id = package_ids.at(p.name);
    const std::string& n = p.name;
    std::vector<std::string> lines;
    auto fact = [&](const std::string& predicate, int object, const std::string& value, const std::string& sentence) {
      Fact f;
      f.subject = id;
      f.predicate = predicate;
      f.object = object;
      f.value = value;
      f.doc = "pkg/" + n;
      f.evidence = sentence;
      w.facts.push_back(f);
      lines.push_back(sentence);
    };
    const bool alt = rng.chance(0.5);
    fact("version", -1, p.version, alt ? "Version " + p.version + " of " + n + " is installed."
                                       : n + " has the installed version " + p.version + ".");
    if (!p.section.empty())
      fact("section", section_ids.at(p.section), "", alt ? n + " is filed in the " + p.section + " section."
                                                         : n + " is in the section " + p.section + ".");
    const int m = maintainer_ids.at(p.maintainer);
    fact("maintainer", m, "", alt ? "The maintainer of " + n + " is " + p.maintainer + "."
                                  : n + " is maintained by " + p.maintainer + ".");
    maintained[m].push_back(n);
    if (!p.email.empty() && !maintainer_email.count(m)) maintainer_email[m] = p.email;
    for (const auto& d : p.depends)
      if (package_ids.count(d) && d != n)
        fact("depends", package_ids.at(d), "", alt ? n + " requires " + d + " to be installed." : n + " depends on " + d + ".");
    if (all_digits(p.installed_size))
      fact("installed_size", -1, std::to_string(std::stoll(p.installed_size)),
           alt ? "Installed, " + n + " takes " + p.installed_size + " KiB." : "The installed size of " + n + " is " +
                                                                                 p.installed_size + " KiB.");
    if (!p.priority.empty())
      fact("priority", -1, p.priority, alt ? "Its priority (" + n + ") is " + p.priority + "."
                                           : n + " has the priority " + p.priority + ".");
    if (!p.architecture.empty())
      fact("architecture", -1, p.architecture, n + " is built for the architecture " + p.architecture + ".");
    fact("source", -1, p.source, alt ? n + " comes from the source package " + p.source + "."
                                     : n + " is built from the source package " + p.source + ".");
    Document d;
    d.id = "pkg/" + n;
    d.title = n + ": " + p.summary;
    d.text = n + "\n\n" + p.summary + "\n\n";
    for (const auto& l : lines) d.text += l + "\n";
    if (!p.description.empty()) d.text += "\n" + p.description + "\n";
    w.documents.push_back(std::move(d));
  }
  for (const auto& [m, names] : maintained) {
    const Entity& e = w.entities[static_cast<size_t>(m)];
    Document d;
    d.id = e.doc;
    d.title = e.name + " (maintainer)";
    d.text = e.name + "\n\n";
    if (maintainer_email.count(m)) {
      const std::string sentence = e.name + " can be reached at " + maintainer_email[m] + ".";
      Fact f;
      f.subject = m;
      f.predicate = "email";
      f.value = maintainer_email[m];
      f.doc = d.id;
      f.evidence = sentence;
      w.facts.push_back(f);
      d.text += sentence + "\n";
    }
    d.text += "Packages maintained: ";
    for (size_t i = 0; i < names.size(); ++i) d.text += (i ? ", " : "") + names[i];
    d.text += ".\n";
    w.documents.push_back(std::move(d));
  }
  w.index();
  return w;
}

}  // namespace envforge::generators::search
