#include "generators/code/world_db.h"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>

namespace envforge::generators::code {
namespace {

struct TablesDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct TablesStmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

void tables_check(sqlite3* db, int rc, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error("world database: " + what + ": " + sqlite3_errmsg(db));
}

void tables_bind(sqlite3_stmt* s, int i, const nlohmann::json& v) {
  if (v.is_null()) sqlite3_bind_null(s, i);
  else if (v.is_boolean()) sqlite3_bind_int(s, i, v.get<bool>() ? 1 : 0);
  else if (v.is_number_integer()) sqlite3_bind_int64(s, i, v.get<int64_t>());
  else if (v.is_number()) sqlite3_bind_double(s, i, v.get<double>());
  else if (v.is_string()) {
    const auto& t = v.get_ref<const std::string&>();
    sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  } else {
    const std::string t = v.dump();
    sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
  }
}

}  // namespace

std::string tables_db_bytes(const std::vector<Table>& tables) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    throw std::runtime_error("world database: cannot open an in-memory database");
  }
  std::unique_ptr<sqlite3, TablesDbCloser> db(raw);
  tables_check(raw, sqlite3_exec(raw, "PRAGMA journal_mode = OFF", nullptr, nullptr, nullptr), "journal");
  tables_check(raw, sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr), "begin");
  for (const Table& t : tables) {
    std::string cols, marks;
    for (const auto& c : t.columns) {
      cols += (cols.empty() ? "" : ", ") + c;
      marks += marks.empty() ? "?" : ",?";
    }
    tables_check(raw, sqlite3_exec(raw, ("CREATE TABLE " + t.name + " (" + cols + ")").c_str(), nullptr, nullptr, nullptr),
          "create " + t.name);
    sqlite3_stmt* s = nullptr;
    tables_check(raw, sqlite3_prepare_v2(raw, ("INSERT INTO " + t.name + " VALUES (" + marks + ")").c_str(), -1, &s, nullptr),
          "prepare " + t.name);
    std::unique_ptr<sqlite3_stmt, TablesStmtFinalizer> stmt(s);
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto& row = t.rows[r];
      if (!row.is_array() || row.size() != t.columns.size())
        throw std::runtime_error("world database: row " + std::to_string(r) + " of table " + t.name + " has " +
                                 std::to_string(row.is_array() ? row.size() : 0) + " values for " +
                                 std::to_string(t.columns.size()) + " columns");
      for (size_t i = 0; i < row.size(); ++i) tables_bind(s, static_cast<int>(i + 1), row[i]);
      tables_check(raw, sqlite3_step(s), "insert into " + t.name);
      sqlite3_reset(s);
    }
  }
  tables_check(raw, sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr), "commit");
  sqlite3_int64 size = 0;
  unsigned char* data = sqlite3_serialize(raw, "main", &size, 0);
  if (!data) throw std::runtime_error("world database: serialization failed (out of memory?)");
  std::string bytes(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
  sqlite3_free(data);
  return bytes;
}

}  // namespace envforge::generators::code
