// A world database built from plain tables: each table's columns and rows (JSON values:
// strings, numbers, null), serialized to the bytes of one SQLite file. Code and
// code-interpreter worlds are small sets of such tables.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace envforge::generators::code {

struct Table {
  std::string name;
  std::vector<std::string> columns;  // "name TYPE", e.g. "path TEXT PRIMARY KEY"
  std::vector<nlohmann::json> rows;  // each an array with one value per column
};

// Throws std::runtime_error naming the table when a row does not fit its columns.
std::string tables_db_bytes(const std::vector<Table>& tables);

}  // namespace envforge::generators::code
