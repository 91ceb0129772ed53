#include "generators/search/chat.h"
#include "generators/search/corpus_world.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace envforge::generators::search {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxFileBytes = 4 << 20;     // larger files are skipped
constexpr size_t kMaxDocuments = 20000;
constexpr size_t kPromptChars = 8000;         // of a document shown to the model

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lowered(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string strip(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string digits_of(const std::string& s) {
  std::string d;
  for (char c : s)
    if (std::isdigit(static_cast<unsigned char>(c))) d += c;
  return d;
}

bool contains_ci(const std::string& hay, const std::string& needle) {
  return !needle.empty() && lowered(hay).find(lowered(needle)) != std::string::npos;
}

// The line of `text` holding `evidence`, or npos.
bool on_one_line(const std::string& text, const std::string& evidence) {
  if (evidence.empty() || evidence.find('\n') != std::string::npos) return false;
  return text.find(evidence) != std::string::npos;
}

std::string json_of_reply(const std::string& reply) {
  const size_t a = reply.find('{'), b = reply.rfind('}');
  return a == std::string::npos || b == std::string::npos || b < a ? "" : reply.substr(a, b - a + 1);
}

std::optional<ValueKind> kind_of(const std::string& k) {
  if (k == "entity") return ValueKind::kEntity;
  if (k == "text") return ValueKind::kText;
  if (k == "number") return ValueKind::kNumber;
  if (k == "year") return ValueKind::kYear;
  if (k == "date") return ValueKind::kDate;
  return std::nullopt;
}

int entity_id(ExtractedFacts& x, const std::string& type, const std::string& name) {
  for (const auto& e : x.entities)
    if (e.type == type && lowered(e.name) == lowered(name)) return e.id;
  Entity e;
  e.id = static_cast<int>(x.entities.size());
  e.type = type;
  e.name = name;
  x.entities.push_back(e);
  return e.id;
}

}  // namespace

std::string html_to_text(const std::string& html) {
  // A scanner, not a regex: libstdc++'s regex recurses per character and large pages overflow it.
  const std::string lower = lowered(html);
  std::string s;
  size_t i = 0;
  while (i < html.size()) {
    if (html[i] != '<') {
      s += html[i++];
      continue;
    }
    if (lower.compare(i, 4, "<!--") == 0) {
      const size_t end = lower.find("-->", i + 4);
      i = end == std::string::npos ? html.size() : end + 3;
      continue;
    }
    const size_t close = html.find('>', i);
    if (close == std::string::npos) break;
    std::string tag = lower.substr(i + 1, close - i - 1);
    const size_t sp = tag.find_first_of(" \t\n/");
    const std::string name = tag.empty() ? "" : (tag[0] == '/' ? "/" : "") +
                                                   tag.substr(tag[0] == '/' ? 1 : 0, sp == 0 ? std::string::npos : sp);
    i = close + 1;
    if (name == "script" || name == "style") {
      const size_t end = lower.find("</" + name, i);
      i = end == std::string::npos ? html.size() : lower.find('>', end) + 1;
      if (i == 0) i = html.size();
      continue;
    }
    static const std::vector<std::string> breaks = {"br", "br/", "/p", "/div", "/h1", "/h2", "/h3", "/h4", "/h5",
                                                    "/h6", "/li", "/tr", "/title", "p", "li", "div"};
    if (std::find(breaks.begin(), breaks.end(), name) != breaks.end()) s += '\n';
  }
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&nbsp;", " "}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}, {"&amp;", "&"}})
    for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  std::string out, line;
  std::stringstream ss(s);
  while (std::getline(ss, line)) {
    std::string squeezed;
    for (char c : strip(line)) {
      if (c == '\t' || c == '\r') c = ' ';
      if (c == ' ' && !squeezed.empty() && squeezed.back() == ' ') continue;
      squeezed += c;
    }
    if (!squeezed.empty() || (!out.empty() && out.back() != '\n')) out += squeezed + "\n";
  }
  return out;
}

std::vector<Document> load_corpus_documents(const std::string& path) {
  std::vector<Document> docs;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(path + ": no such file or folder");
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const std::string ext = lowered(it->path().extension().string());
      if (it->is_regular_file(ec) && (ext == ".txt" || ext == ".md" || ext == ".markdown" || ext == ".html" ||
                                      ext == ".htm"))
        files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (docs.size() >= kMaxDocuments) break;
      if (fs::file_size(f, ec) > kMaxFileBytes) continue;
      std::string text = read_all(f);
      const std::string ext = lowered(f.extension().string());
      if (ext == ".html" || ext == ".htm") text = html_to_text(text);
      if (strip(text).empty()) continue;
      Document d;
      d.id = fs::relative(f, path, ec).generic_string();
      std::string first = text.substr(0, text.find('\n'));
      while (!first.empty() && first[0] == '#') first.erase(0, 1);
      d.title = strip(first).substr(0, 200);
      d.text = std::move(text);
      docs.push_back(std::move(d));
    }
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot be read");
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (strip(line).empty()) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::parse_error& e) {
        throw std::runtime_error(path + ":" + std::to_string(n) + ": not valid JSON (" + e.what() + ")");
      }
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
        throw std::runtime_error(path + ":" + std::to_string(n) + ": a record needs a string \"text\"");
      Document d;
      d.id = j.contains("id") ? (j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump())
                              : "doc-" + std::to_string(n);
      d.text = j["text"].get<std::string>();
      d.title = j.value("title", d.text.substr(0, std::min<size_t>(80, d.text.find('\n'))));
      for (const auto& other : docs)
        if (other.id == d.id)
          throw std::runtime_error(path + ":" + std::to_string(n) + ": the id '" + d.id + "' is used twice");
      docs.push_back(std::move(d));
      if (docs.size() >= kMaxDocuments) break;
    }
  }
  if (docs.empty()) throw std::runtime_error(path + ": holds no document (.txt, .md, .html, or JSONL records)");
  return docs;
}

size_t add_extracted(const Document& doc, const std::string& reply, ExtractedFacts& x, std::vector<std::string>& why) {
  json j;
  try {
    j = json::parse(json_of_reply(reply));
  } catch (const json::parse_error&) {
    why.push_back("the reply is not a JSON object");
    return 0;
  }
  if (!j.contains("facts") || !j["facts"].is_array()) {
    why.push_back("the reply has no \"facts\" list");
    return 0;
  }
  static const std::regex name_rx("[a-z][a-z0-9_]{0,39}");
  size_t kept = 0;
  for (const auto& f : j["facts"]) {
    auto str = [&](const char* k) { return f.is_object() && f.contains(k) && f[k].is_string() ? strip(f[k].get<std::string>()) : std::string(); };
    const std::string subject = str("subject"), stype = lowered(str("subject_type")), pred = lowered(str("predicate"));
    const std::string object = str("object"), evidence = str("evidence"), kind_name = lowered(str("kind"));
    const auto kind = kind_of(kind_name);
    std::string problem;
    if (subject.empty() || stype.empty() || object.empty() || !kind) problem = "incomplete fact";
    else if (!std::regex_match(pred, name_rx)) problem = "bad predicate name '" + pred.substr(0, 40) + "'";
    else if (!on_one_line(doc.text, evidence)) problem = "evidence not found verbatim on one line";
    else if (!contains_ci(evidence, subject)) problem = "evidence does not name the subject";
    std::string value = object;
    if (problem.empty()) {
      if (*kind == ValueKind::kNumber || *kind == ValueKind::kYear) {
        value = digits_of(object);
        if (value.empty() || value.size() > 15 || digits_of(evidence).find(value) == std::string::npos)
          problem = "the number is not in the evidence";
        else value = std::to_string(std::stoll(value));
      } else if (*kind == ValueKind::kDate) {
        if (object.size() != 10 || !std::regex_match(object, std::regex("\\d{4}-\\d{2}-\\d{2}")) ||
            evidence.find(object.substr(0, 4)) == std::string::npos)
          problem = "a date must be YYYY-MM-DD and its year in the evidence";
      } else if (!contains_ci(evidence, object)) {
        problem = "evidence does not name the object";
      }
    }
    const std::string otype = *kind == ValueKind::kEntity ? lowered(str("object_type")) : "";
    if (problem.empty() && *kind == ValueKind::kEntity && otype.empty()) problem = "an entity object needs object_type";
    const Predicate* known = nullptr;
    for (const auto& p : x.predicates)
      if (p.name == pred) known = &p;
    if (problem.empty() && known && (known->subject_type != stype || known->kind != *kind || known->object_type != otype))
      problem = "predicate '" + pred + "' used with other types than before";
    if (!problem.empty()) {
      why.push_back(problem);
      continue;
    }
    if (!known) {
      Predicate p;
      p.name = pred;
      p.subject_type = stype;
      p.kind = *kind;
      p.object_type = otype;
      p.noun = str("noun").empty() || str("noun").size() > 60 ? std::regex_replace(pred, std::regex("_"), " ") : str("noun");
      p.relative = str("relative").empty() || str("relative").size() > 60 ? "has the " + p.noun + " of" : str("relative");
      x.predicates.push_back(p);
    }
    Fact fact;
    fact.subject = entity_id(x, stype, subject);
    fact.predicate = pred;
    if (*kind == ValueKind::kEntity) fact.object = entity_id(x, otype, object);
    else fact.value = value;
    fact.doc = doc.id;
    fact.evidence = evidence;
    x.facts.push_back(fact);
    ++kept;
  }
  return kept;
}

ExtractedFacts extract_corpus_facts(agents::Backend& llm, const std::vector<Document>& documents) {
  ExtractedFacts x;
  for (const auto& d : documents) {
    agents::ChatRequest req;
    req.messages.push_back(chat_message("system", "Extract facts from the document as JSON: {\"facts\": [{\"subject\", \"subject_type\", "
                    "\"predicate\" (snake_case), \"noun\" (\"the NOUN of SUBJECT\"), \"relative\" (\"the TYPE that "
                    "RELATIVE OBJECT\"), \"object\", \"object_type\" (for entities), \"kind\" (entity, text, number, "
                    "year or date as YYYY-MM-DD), \"evidence\" (one sentence copied verbatim from the document that "
                    "states the fact)}]}. Use the same predicate names and types across documents. Reply with the "
                    "JSON only."));
    req.messages.push_back(chat_message("user", "Document " + d.id + ":\n\n" + d.text.substr(0, kPromptChars)));
    const std::string reply = llm.chat(req).message.content;
    std::vector<std::string> why;
    const size_t kept = add_extracted(d, reply, x, why);
    x.report.push_back({{"doc", d.id}, {"kept", kept}, {"dropped", why}});
  }
  return x;
}

World corpus_world(const std::vector<Document>& documents, const ExtractedFacts& x, uint64_t seed) {
  World w;
  w.source = "corpus";
  w.seed = seed;
  w.documents = documents;
  w.predicates = x.predicates;
  w.entities = x.entities;
  w.facts = x.facts;
  for (auto& p : w.predicates) {
    std::map<int, int> per_subject;
    for (const auto& f : w.facts)
      if (f.predicate == p.name) ++per_subject[f.subject];
    p.single = std::all_of(per_subject.begin(), per_subject.end(), [](const auto& kv) { return kv.second == 1; });
  }
  for (auto& e : w.entities)
    for (const auto& d : w.documents)
      if (lowered(d.title) == lowered(e.name)) e.doc = d.id;
  w.index();
  return w;
}

}  // namespace envforge::generators::search
