// The smallest correct Parquet writer: PLAIN-encoded, uncompressed DataPage V1 pages,
// RLE definition/repetition levels, one or more row groups, a Thrift compact footer.
// Rows are JSON objects shredded into columns by a schema of nested fields (structs and
// lists of anything, each optional or required), so readers (pyarrow, pandas, HF
// datasets, hyparquet) see the same nesting. No maintained C++ Parquet library installs
// from Debian; this covers what the trainer exports need and nothing more.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace envforge::data::parquet {

enum class Kind { kString, kInt64, kDouble, kStruct, kList };

// One field of the schema. A list's single child is its element (named "element").
struct Field {
  std::string name;
  Kind kind = Kind::kString;
  bool optional = false;  // JSON null or a missing key is allowed (stored as null)
  std::vector<Field> children;

  static Field string(std::string name, bool optional = false);
  static Field int64(std::string name, bool optional = false);
  static Field float64(std::string name, bool optional = false);
  static Field structure(std::string name, std::vector<Field> fields, bool optional = false);
  static Field list(std::string name, Field element, bool optional = false);
};

struct WriterOptions {
  int64_t row_group_rows = 8192;                 // a row group ends after this many rows ...
  int64_t row_group_bytes = 64ll * 1024 * 1024;  // ... or once its pages hold this much
  int64_t page_bytes = 1024 * 1024;              // a page ends (at a row boundary) past this
  std::string created_by = "envforge";
};

// Receives the file's bytes in order; throws to abort.
using Sink = std::function<void(std::string_view)>;

class Writer {
 public:
  // Throws std::invalid_argument for an unusable schema (no fields, a struct without
  // fields, a list without exactly one element).
  Writer(std::vector<Field> fields, Sink sink, WriterOptions options = {});
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // One row: an object with a value per field. Throws std::invalid_argument naming the
  // field when a value does not fit the schema; the row is then not written at all.
  void write_row(const nlohmann::json& row);
  // Writes the last row group and the footer. Nothing may be written after it.
  void finish();

  int64_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace envforge::data::parquet
