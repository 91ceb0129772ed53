#include "generators/search/world_db.h"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace envforge::generators::search {
namespace {

constexpr const char* kSearchSchema = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
  text TEXT NOT NULL);
CREATE VIRTUAL TABLE documents_fts USING fts5(title, text, content='documents', content_rowid='rowid',
  tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE predicates (name TEXT PRIMARY KEY, subject_type TEXT NOT NULL, kind TEXT NOT NULL,
  object_type TEXT NOT NULL, noun TEXT NOT NULL, relative TEXT NOT NULL, single INTEGER NOT NULL);
CREATE TABLE entities (id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL,
  aliases TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE facts (subject INTEGER NOT NULL, predicate TEXT NOT NULL, object INTEGER,
  value TEXT NOT NULL, doc TEXT NOT NULL, evidence TEXT NOT NULL);
)sql";

struct SearchDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct SearchStmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

void sql_check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string("search world database: ") + what + ": " + sqlite3_errmsg(db));
}

// One prepared INSERT, bound and stepped per row.
class RowWriter {
 public:
  RowWriter(sqlite3* db, const char* sql) : db_(db) {
    sqlite3_stmt* s = nullptr;
    sql_check(db, sqlite3_prepare_v2(db, sql, -1, &s, nullptr), sql);
    stmt_.reset(s);
  }
  template <class... Args>
  void row(const Args&... args) {
    int i = 0;
    (bind(++i, args), ...);
    sql_check(db_, sqlite3_step(stmt_.get()), "insert");
    sqlite3_reset(stmt_.get());
  }

 private:
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, const char* v) { bind(i, std::string(v)); }
  void bind(int i, int v) { sqlite3_bind_int(stmt_.get(), i, v); }
  void bind(int i, std::nullptr_t) { sqlite3_bind_null(stmt_.get(), i); }
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, SearchStmtCloser> stmt_;
};

}  // namespace

std::string world_db_bytes(const World& w) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    throw std::runtime_error("search world database: cannot open an in-memory database");
  }
  std::unique_ptr<sqlite3, SearchDbCloser> db(raw);
  sql_check(raw, sqlite3_exec(raw, "PRAGMA journal_mode = OFF", nullptr, nullptr, nullptr), "journal");
  sql_check(raw, sqlite3_exec(raw, kSearchSchema, nullptr, nullptr, nullptr), "schema (is FTS5 available?)");
  sql_check(raw, sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr), "begin");
  {
    RowWriter meta(raw, "INSERT INTO meta VALUES (?,?)");
    meta.row("source", w.source);
    meta.row("seed", std::to_string(w.seed));
    RowWriter docs(raw, "INSERT INTO documents (rowid, id, title, text) VALUES (?,?,?,?)");
    RowWriter fts(raw, "INSERT INTO documents_fts (rowid, title, text) VALUES (?,?,?)");
    for (size_t i = 0; i < w.documents.size(); ++i) {
      const Document& d = w.documents[i];
      docs.row(static_cast<int>(i + 1), d.id, d.title, d.text);
      fts.row(static_cast<int>(i + 1), d.title, d.text);
    }
    RowWriter preds(raw, "INSERT INTO predicates VALUES (?,?,?,?,?,?,?)");
    for (const auto& p : w.predicates)
      preds.row(p.name, p.subject_type, value_kind_name(p.kind), p.object_type, p.noun, p.relative, p.single ? 1 : 0);
    RowWriter ents(raw, "INSERT INTO entities VALUES (?,?,?,?,?)");
    for (const auto& e : w.entities) ents.row(e.id, e.type, e.name, nlohmann::json(e.aliases).dump(), e.doc);
    RowWriter facts(raw, "INSERT INTO facts VALUES (?,?,?,?,?,?)");
    for (const auto& f : w.facts) {
      if (f.object >= 0) facts.row(f.subject, f.predicate, f.object, f.value, f.doc, f.evidence);
      else facts.row(f.subject, f.predicate, nullptr, f.value, f.doc, f.evidence);
    }
  }
  sql_check(raw, sqlite3_exec(raw, "INSERT INTO documents_fts(documents_fts) VALUES ('optimize')", nullptr, nullptr,
                              nullptr),
            "optimize");
  sql_check(raw, sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr), "commit");
  sqlite3_int64 size = 0;
  unsigned char* data = sqlite3_serialize(raw, "main", &size, 0);
  if (!data) throw std::runtime_error("search world database: serialization failed (out of memory?)");
  std::string bytes(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
  sqlite3_free(data);
  return bytes;
}

}  // namespace envforge::generators::search
