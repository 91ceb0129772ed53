// Small RAII layer over the SQLite C API, internal to data/.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace envforge::data {

// A prepared statement, reset on destruction of the binding scope (see Statement::Use).
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binding is 1-based, as in SQLite.
  void bind(int i, std::string_view text);
  void bind_blob(int i, std::string_view bytes);
  void bind(int i, int64_t value);
  void bind(int i, double value);
  void bind_null(int i);
  void bind_text_or_null(int i, std::string_view text);  // empty -> NULL
  // Without a copy: the bytes must stay alive and unchanged until the
  // statement has run (see RebindScope).
  void bind_static(int i, std::string_view text);
  void bind_blob_static(int i, std::string_view bytes);

  bool step();            // true: a row is available; false: done. Throws on error.
  void run();             // step to completion
  void reset();            // also clears the bindings
  void rewind();           // keeps the bindings

  int64_t int_at(int col) const;
  double double_at(int col) const;
  std::string text_at(int col) const;   // NULL -> ""
  bool is_null(int col) const;
  const std::string& sql() const { return sql_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  const std::string& path_;
};

// Resets a cached statement when leaving scope, so it never holds a read lock.
class StatementScope {
 public:
  explicit StatementScope(Statement& s) : s_(s) { s_.reset(); }
  ~StatementScope() { s_.reset(); }
  Statement* operator->() { return &s_; }
  Statement& operator*() { return s_; }

 private:
  Statement& s_;
};

// For hot write statements whose every parameter is bound before each run:
// rewinds on entry and exit without clearing bindings (static binds cost no
// copy; they are never read again before the next full set of binds).
class RebindScope {
 public:
  explicit RebindScope(Statement& s) : s_(s) { s_.rewind(); }
  ~RebindScope() { s_.rewind(); }
  Statement* operator->() { return &s_; }
  Statement& operator*() { return s_; }

 private:
  Statement& s_;
};

// An open database connection with a cache of prepared statements.
class Connection {
 public:
  // `uri`, when given, is the name SQLite opens (with SQLITE_OPEN_URI); `path`
  // is what messages show.
  Connection(const std::string& path, int flags, const std::string& uri = "");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }
  void exec(const std::string& sql);
  // The cached prepared statement for this SQL text. Looked up by the text's
  // address first (statements are string literals or static strings), so a
  // hot statement costs no string copy or long comparison per call.
  Statement& cached(const char* sql);
  // Whether the cached query `sql`, with `key` bound to its one parameter,
  // finds a row (e.g. "SELECT 1 FROM runs WHERE id = ?").
  bool has_row(const char* sql, std::string_view key);
  // The single value of a one-row, one-column query.
  int64_t query_int(const std::string& sql);
  std::string query_text(const std::string& sql);

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, Statement*> cache_;
  std::unordered_map<const char*, Statement*> by_address_;
};

// "file:PATH" with the characters that end a URI path escaped (for SQLITE_OPEN_URI).
std::string sqlite_file_uri(const std::string& path);

// A read-only URI for `path` that writes nothing next to it: immutable (no
// locks, no -shm or -wal created) when no writer left a -wal or -journal
// behind; otherwise plain read-only, so SQLite reads through the WAL or
// refuses a hot journal instead of reading half-written pages.
std::string sqlite_read_only_uri(const std::string& path);

// Throws CorpusError "corpus PATH: WHAT: sqlite message".
[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& path, const std::string& what);

// A write transaction (BEGIN IMMEDIATE) rolled back unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(Connection& c);
  ~WriteTransaction();
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

}  // namespace envforge::data
