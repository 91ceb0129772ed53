#include "tool_solver.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

#include "generators/search/synthetic_world.h"
#include "generators/search/text_forms.h"

namespace envforge::generators::search::testing {
namespace {

using nlohmann::json;

std::string loose(const std::string& s) {
  std::string k;
  for (unsigned char c : s)
    if (std::isalnum(c)) k += static_cast<char>(std::tolower(c));
  return k;
}

std::string regex_escaped(const std::string& s) {
  static const std::string special = "\\^$.|?*+()[]{}";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

// Matches `line` against a template; fills s and o on success.
bool match_template(const std::string& tpl, const std::string& line, std::string& s, std::string& o) {
  std::string rx = "^";
  size_t i = 0;
  std::vector<char> order;
  while (i < tpl.size()) {
    if (tpl.compare(i, 3, "{s}") == 0 || tpl.compare(i, 3, "{o}") == 0) {
      order.push_back(tpl[i + 1]);
      rx += "(.+?)";
      i += 3;
    } else {
      rx += regex_escaped(std::string(1, tpl[i++]));
    }
  }
  rx += "$";
  std::smatch m;
  if (!std::regex_match(line, m, std::regex(rx, std::regex::icase))) return false;
  for (size_t k = 0; k < order.size(); ++k) (order[k] == 's' ? s : o) = m[k + 1].str();
  return true;
}

std::vector<std::string> value_forms(const World& w, const Constraint& c) {
  if (c.object >= 0) return {w.entities[static_cast<size_t>(c.object)].name};
  return {c.value, date_words(c.value), date_words_us(c.value), with_thousands(c.value)};
}

}  // namespace

json ToolSolver::tool(const std::string& name, const json& args) {
  ++calls_;
  const auto r = py_.call("tools", name, args);
  return r.ok ? r.value : json::object();
}

std::vector<std::string> ToolSolver::lines_about(const std::string& name, const std::string& hint) {
  std::vector<std::string> lines;
  std::set<std::string> seen;
  const json hits = tool("search", {{"query", name + " " + hint}, {"k", 10}});
  for (const auto& h : hits.value("hits", json::array())) {
    const json found = tool("find", {{"doc_id", h["id"]}, {"pattern", regex_escaped(name)}});
    for (const auto& l : found.value("lines", json::array()))
      if (seen.insert(l["text"].get<std::string>()).second) lines.push_back(l["text"]);
  }
  return lines;
}

bool ToolSolver::is_a(const std::string& title, const std::string& type) {
  const json hits = tool("search", {{"query", title}, {"k", 5}});
  for (const auto& h : hits.value("hits", json::array()))
    if (h["title"] == title) {
      const json found = tool("find", {{"doc_id", h["id"]}, {"pattern", "is an? " + type + " described"}});
      return !found.value("lines", json::array()).empty();
    }
  return false;
}

std::vector<std::string> ToolSolver::candidates(const Question& q) {
  std::set<std::string> titles;
  for (const auto& c : q.constraints) {
    const json hits = tool("search", {{"query", value_forms(schema_, c)[0] + " " + q.start_type}, {"k", 10}});
    for (const auto& h : hits.value("hits", json::array())) titles.insert(h["title"].get<std::string>());
  }
  // Entities named in lines about the constraint values: a fact may stand in the value's article.
  for (const auto& c : q.constraints)
    if (c.object >= 0)
      for (const auto& line : lines_about(value_forms(schema_, c)[0], ""))
        for (const auto& t : synthetic_phrasings(c.predicate).object_view) {
          std::string s, o;
          if (match_template(t, line, s, o)) titles.insert(o);
        }
  std::vector<std::string> out;
  for (const auto& t : titles)
    if (is_a(t, q.start_type)) out.push_back(t);
  return out;
}

bool ToolSolver::holds(const std::string& name, const Constraint& c) {
  const auto forms = value_forms(schema_, c);
  std::set<std::string> want;
  for (const auto& f : forms) want.insert(loose(f));
  for (const auto& line : lines_about(name, forms[0])) {
    std::string s, o;
    const auto ph = synthetic_phrasings(c.predicate);
    for (const auto& t : ph.subject_view)
      if (match_template(t, line, s, o) && loose(s) == loose(name) && want.count(loose(o))) return true;
    for (const auto& t : ph.object_view)
      if (match_template(t, line, s, o) && loose(o) == loose(name) && want.count(loose(s))) return true;
  }
  return false;
}

std::optional<std::string> ToolSolver::follow(const std::string& name, const std::string& predicate) {
  const Predicate* p = schema_.predicate(predicate);
  for (const auto& line : lines_about(name, p ? p->noun : "")) {
    std::string s, o;
    const auto ph = synthetic_phrasings(predicate);
    for (const auto& t : ph.subject_view)
      if (match_template(t, line, s, o) && loose(s) == loose(name)) return o;
    for (const auto& t : ph.object_view)
      if (match_template(t, line, s, o) && loose(o) == loose(name)) return s;
  }
  return std::nullopt;
}

std::optional<std::string> ToolSolver::answer(const Question& q) {
  std::vector<std::string> fits;
  for (const auto& cand : candidates(q)) {
    bool all = true;
    for (const auto& c : q.constraints) all = all && holds(cand, c);
    if (all) fits.push_back(cand);
  }
  if (fits.size() != 1) {
    why_ = std::to_string(fits.size()) + " entities fit the description";
    return std::nullopt;
  }
  std::string at = fits[0];
  for (const auto& hop : q.hops) {
    const auto next = follow(at, hop);
    if (!next) {
      why_ = "no sentence gives the " + hop + " of " + at;
      return std::nullopt;
    }
    at = *next;
  }
  return at;
}

}  // namespace envforge::generators::search::testing
