#include "data/sqlite_handle.h"

#include <sys/stat.h>

#include <cstdio>

#include "data/corpus.h"

namespace envforge::data {

std::string sqlite_file_uri(const std::string& path) {
  std::string uri = "file:";
  for (char ch : path) {
    if (ch == '%' || ch == '?' || ch == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(ch));
      uri += buf;
    } else {
      uri += ch;
    }
  }
  return uri;
}

std::string sqlite_read_only_uri(const std::string& path) {
  struct stat st{};
  bool in_use = ::stat((path + "-wal").c_str(), &st) == 0 || ::stat((path + "-journal").c_str(), &st) == 0;
  return sqlite_file_uri(path) + (in_use ? "?mode=ro" : "?mode=ro&immutable=1");
}

void throw_sqlite(sqlite3* db, const std::string& path, const std::string& what) {
  std::string msg = "corpus " + path + ": " + what;
  if (db) {
    msg += ": ";
    msg += sqlite3_errmsg(db);
  }
  throw CorpusError(msg);
}

Statement::Statement(sqlite3* db, const std::string& sql, const std::string& path)
    : db_(db), sql_(sql), path_(path) {
  if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK)
    throw_sqlite(db_, path_, "cannot prepare \"" + sql.substr(0, 60) + "\"");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind(int i, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
      SQLITE_OK)
    throw_sqlite(db_, path_, "cannot bind text");
}

void Statement::bind_blob(int i, std::string_view bytes) {
  if (sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT) != SQLITE_OK)
    throw_sqlite(db_, path_, "cannot bind blob");
}

void Statement::bind_static(int i, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8) !=
      SQLITE_OK)
    throw_sqlite(db_, path_, "cannot bind text");
}

void Statement::bind_blob_static(int i, std::string_view bytes) {
  if (sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_STATIC) != SQLITE_OK)
    throw_sqlite(db_, path_, "cannot bind blob");
}

void Statement::bind(int i, int64_t value) {
  if (sqlite3_bind_int64(stmt_, i, value) != SQLITE_OK) throw_sqlite(db_, path_, "cannot bind int");
}

void Statement::bind(int i, double value) {
  if (sqlite3_bind_double(stmt_, i, value) != SQLITE_OK)
    throw_sqlite(db_, path_, "cannot bind double");
}

void Statement::bind_null(int i) {
  if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) throw_sqlite(db_, path_, "cannot bind null");
}

void Statement::bind_text_or_null(int i, std::string_view text) {
  if (text.empty())
    bind_null(i);
  else
    bind(i, text);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  throw_sqlite(db_, path_, "statement failed \"" + sql.substr(0, 60) + "\"");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::rewind() { sqlite3_reset(stmt_); }

int64_t Statement::int_at(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::double_at(int col) const { return sqlite3_column_double(stmt_, col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Statement::text_at(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (!p || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

Connection::Connection(const std::string& path, int flags, const std::string& uri) : path_(path) {
  if (!uri.empty()) flags |= SQLITE_OPEN_URI;
  int rc = sqlite3_open_v2(uri.empty() ? path.c_str() : uri.c_str(), &db_,
                           flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw CorpusError("corpus " + path + ": cannot open: " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) delete stmt;
  sqlite3_close_v2(db_);
}

void Connection::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw CorpusError("corpus " + path_ + ": \"" + sql.substr(0, 60) + "\" failed: " + msg);
  }
}

Statement& Connection::cached(const char* sql) {
  // The same address may hold another text later (a freed string): confirm it.
  auto hit = by_address_.find(sql);
  if (hit != by_address_.end() && hit->second->sql() == sql)
    return *hit->second;
  auto it = cache_.find(sql);
  Statement* stmt;
  if (it != cache_.end()) {
    stmt = it->second;
  } else {
    stmt = new Statement(db_, sql, path_);
    cache_.emplace(sql, stmt);
  }
  by_address_[sql] = stmt;
  return *stmt;
}

bool Connection::has_row(const char* sql, std::string_view key) {
  StatementScope s(cached(sql));
  s->bind(1, key);
  return s->step();
}

int64_t Connection::query_int(const std::string& sql) {
  Statement s(db_, sql, path_);
  return s.step() ? s.int_at(0) : 0;
}

std::string Connection::query_text(const std::string& sql) {
  Statement s(db_, sql, path_);
  return s.step() ? s.text_at(0) : std::string();
}

WriteTransaction::WriteTransaction(Connection& c) : c_(c) { c_.exec("BEGIN IMMEDIATE"); }

WriteTransaction::~WriteTransaction() {
  if (!done_) sqlite3_exec(c_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void WriteTransaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

}  // namespace envforge::data
