// A user's documents as a search world (--corpus-source): a folder of text, Markdown or HTML
// files, or a JSONL file of {"id", "title", "text"}. The facts questions are built from are
// extracted by the generator model, one document at a time, and kept only when the quoted
// evidence is really in the document and names both sides of the fact.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "generators/search/world.h"

namespace envforge::generators::search {

// Throws std::runtime_error naming the path (and line, for JSONL) when it cannot be read,
// holds a malformed record, or holds no document.
std::vector<Document> load_corpus_documents(const std::string& path);

// HTML to text: scripts and styles dropped, block elements become line breaks, tags removed,
// common entities decoded.
std::string html_to_text(const std::string& html);

struct ExtractedFacts {
  std::vector<Predicate> predicates;
  std::vector<Entity> entities;
  std::vector<Fact> facts;
  nlohmann::json report = nlohmann::json::array();  // per document: kept / dropped and why
};

// Asks `llm` for the facts of every document. A reply that is not the JSON asked for drops
// that document's facts (the report says why); a backend error is thrown.
ExtractedFacts extract_corpus_facts(agents::Backend& llm, const std::vector<Document>& documents);

// Parses one extraction reply for `doc` into `into` (exposed for tests). Returns the number of
// facts kept; `why` collects the reasons of those dropped.
size_t add_extracted(const Document& doc, const std::string& reply, ExtractedFacts& into, std::vector<std::string>& why);

World corpus_world(const std::vector<Document>& documents, const ExtractedFacts& facts, uint64_t seed);

}  // namespace envforge::generators::search
