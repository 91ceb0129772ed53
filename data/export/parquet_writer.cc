#include "data/export/parquet_writer.h"

#include <climits>
#include <cstring>
#include <stdexcept>

#include "data/export/thrift_compact.h"

namespace envforge::data::parquet {

using nlohmann::json;

Field Field::string(std::string name, bool optional) { return {std::move(name), Kind::kString, optional, {}}; }
Field Field::int64(std::string name, bool optional) { return {std::move(name), Kind::kInt64, optional, {}}; }
Field Field::float64(std::string name, bool optional) { return {std::move(name), Kind::kDouble, optional, {}}; }
Field Field::structure(std::string name, std::vector<Field> fields, bool optional) {
  return {std::move(name), Kind::kStruct, optional, std::move(fields)};
}
Field Field::list(std::string name, Field element, bool optional) {
  element.name = "element";
  return {std::move(name), Kind::kList, optional, {std::move(element)}};
}

namespace {

// Parquet's enum values (parquet.thrift).
enum PhysicalType : int32_t { kInt64Type = 2, kDoubleType = 5, kByteArrayType = 6 };
enum Repetition : int32_t { kRequired = 0, kOptional = 1, kRepeated = 2 };
enum ConvertedType : int32_t { kUtf8 = 0, kListConverted = 3 };
enum Encoding : int32_t { kPlain = 0, kRle = 3 };

int bit_width(int max_level) {
  int w = 0;
  while ((1 << w) <= max_level) ++w;
  return w;
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// The RLE/bit-packed hybrid with RLE runs only (every reader decodes those), behind the
// 4-byte length DataPage V1 puts in front of levels.
void append_levels(std::string& out, const std::vector<uint16_t>& levels, int max_level) {
  const int bytes_per_value = (bit_width(max_level) + 7) / 8;
  std::string runs;
  for (size_t i = 0; i < levels.size();) {
    size_t j = i;
    while (j < levels.size() && levels[j] == levels[i]) ++j;
    put_varint(runs, static_cast<uint64_t>(j - i) << 1);
    for (int b = 0; b < bytes_per_value; ++b) runs.push_back(static_cast<char>((levels[i] >> (8 * b)) & 0xff));
    i = j;
  }
  put_u32(out, static_cast<uint32_t>(runs.size()));
  out += runs;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kString: return "a string";
    case Kind::kInt64: return "an integer";
    case Kind::kDouble: return "a number";
    case Kind::kStruct: return "an object";
    case Kind::kList: return "an array";
  }
  return "a value";
}

bool value_fits(Kind k, const json& v) {
  switch (k) {
    case Kind::kString: return v.is_string();
    case Kind::kInt64:
      return v.is_number_integer() &&
             !(v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX));
    case Kind::kDouble: return v.is_number();
    case Kind::kStruct: return v.is_object();
    case Kind::kList: return v.is_array();
  }
  return false;
}

// Checks a whole value before any column is touched, so a bad row leaves no trace.
void check_value(const Field& f, const json* v, const std::string& where) {
  if (!v || v->is_null()) {
    if (!f.optional) throw std::invalid_argument("field " + where + ": missing (it is required)");
    return;
  }
  if (!value_fits(f.kind, *v)) throw std::invalid_argument("field " + where + ": expected " + kind_name(f.kind));
  if (f.kind == Kind::kStruct) {
    for (const auto& c : f.children) {
      auto it = v->find(c.name);
      check_value(c, it == v->end() ? nullptr : &*it, where + "." + c.name);
    }
  } else if (f.kind == Kind::kList) {
    for (size_t i = 0; i < v->size(); ++i)
      check_value(f.children[0], &(*v)[i], where + "[" + std::to_string(i) + "]");
  }
}

}  // namespace

// What Writer::Impl holds (a named namespace: a member's type may not be file-local).
namespace writer_state {

struct Page {
  std::string body;  // levels then values
  int64_t num_values = 0;
};

// One leaf of the schema and what the current row group holds of it.
struct Column {
  std::vector<std::string> path;
  Kind kind = Kind::kString;
  int max_def = 0;
  int max_rep = 0;
  // The open page.
  std::vector<uint16_t> defs, reps;
  std::string values;
  int64_t num_values = 0;
  std::vector<Page> pages;  // sealed pages of the current row group
  int64_t sealed_bytes = 0;

  void add(std::string_view plain, int def, int rep) {
    if (max_def > 0) defs.push_back(static_cast<uint16_t>(def));
    if (max_rep > 0) reps.push_back(static_cast<uint16_t>(rep));
    values.append(plain);
    ++num_values;
  }
  int64_t open_bytes() const { return static_cast<int64_t>(values.size() + 2 * (defs.size() + reps.size())); }
  void seal_page() {
    if (num_values == 0) return;
    Page p;
    if (max_rep > 0) append_levels(p.body, reps, max_rep);
    if (max_def > 0) append_levels(p.body, defs, max_def);
    p.body += values;
    if (p.body.size() > static_cast<size_t>(INT32_MAX))
      throw std::invalid_argument("parquet column " + path.front() + ": one row holds more than 2 GiB");
    p.num_values = num_values;
    sealed_bytes += static_cast<int64_t>(p.body.size());
    pages.push_back(std::move(p));
    defs.clear();
    reps.clear();
    values.clear();
    num_values = 0;
  }
};

// A schema field with where its leaves sit in the column list.
struct Node {
  const Field* field = nullptr;
  size_t first_leaf = 0;
  size_t leaf_count = 0;
  std::vector<Node> children;
};

struct ChunkMeta {
  int64_t offset = 0;
  int64_t size = 0;
  int64_t num_values = 0;
};

struct RowGroupMeta {
  int64_t rows = 0;
  int64_t bytes = 0;
  std::vector<ChunkMeta> chunks;
};

}  // namespace writer_state

using namespace writer_state;

struct Writer::Impl {
  std::vector<Field> fields;
  Sink sink;
  WriterOptions options;
  std::vector<Node> roots;
  std::vector<Column> columns;
  std::vector<RowGroupMeta> groups;
  int64_t offset = 0;
  int64_t rows = 0;
  int64_t group_rows = 0;
  bool finished = false;

  void emit(std::string_view bytes) {
    sink(bytes);
    offset += static_cast<int64_t>(bytes.size());
  }

  Node plan(const Field& f, std::vector<std::string> path, int def, int rep) {
    if (f.name.empty()) throw std::invalid_argument("parquet schema: a field without a name");
    Node n;
    n.field = &f;
    n.first_leaf = columns.size();
    path.push_back(f.name);
    if (f.optional) ++def;
    if (f.kind == Kind::kStruct) {
      if (f.children.empty()) throw std::invalid_argument("parquet schema: struct " + f.name + " has no fields");
      for (const auto& c : f.children) n.children.push_back(plan(c, path, def, rep));
    } else if (f.kind == Kind::kList) {
      if (f.children.size() != 1) throw std::invalid_argument("parquet schema: list " + f.name + " needs one element");
      path.push_back("list");
      n.children.push_back(plan(f.children[0], path, def + 1, rep + 1));
    } else {
      Column c;
      c.path = path;
      c.kind = f.kind;
      c.max_def = def;
      c.max_rep = rep;
      columns.push_back(std::move(c));
    }
    n.leaf_count = columns.size() - n.first_leaf;
    return n;
  }

  void nulls(const Node& n, int def, int rep) {
    for (size_t i = 0; i < n.leaf_count; ++i) columns[n.first_leaf + i].add({}, def, rep);
  }

  // Dremel shredding: `def` counts the optional/repeated ancestors present, `rep` is the
  // repetition level of this value's first leaf entry, `depth` the lists above it.
  void shred(const Node& n, const json* v, int def, int rep, int depth) {
    const Field& f = *n.field;
    if (!v || v->is_null()) return nulls(n, def, rep);
    if (f.optional) ++def;
    switch (f.kind) {
      case Kind::kString: {
        const auto& s = v->get_ref<const std::string&>();
        std::string plain;
        put_u32(plain, static_cast<uint32_t>(s.size()));
        plain += s;
        columns[n.first_leaf].add(plain, def, rep);
        return;
      }
      case Kind::kInt64: {
        int64_t x = v->get<int64_t>();
        char bytes[8];
        std::memcpy(bytes, &x, 8);  // little-endian hosts only (x86-64, aarch64)
        columns[n.first_leaf].add(std::string_view(bytes, 8), def, rep);
        return;
      }
      case Kind::kDouble: {
        double x = v->get<double>();
        char bytes[8];
        std::memcpy(bytes, &x, 8);
        columns[n.first_leaf].add(std::string_view(bytes, 8), def, rep);
        return;
      }
      case Kind::kStruct:
        for (const auto& c : n.children) {
          auto it = v->find(c.field->name);
          shred(c, it == v->end() ? nullptr : &*it, def, rep, depth);
        }
        return;
      case Kind::kList:
        if (v->empty()) return nulls(n, def, rep);  // present but empty: no "list" entry
        for (size_t i = 0; i < v->size(); ++i)
          shred(n.children[0], &(*v)[i], def + 1, i == 0 ? rep : depth + 1, depth + 1);
        return;
    }
  }

  void flush_row_group() {
    if (group_rows == 0) return;
    RowGroupMeta g;
    g.rows = group_rows;
    for (auto& c : columns) {
      c.seal_page();
      ChunkMeta m;
      m.offset = offset;
      for (const auto& p : c.pages) {
        thrift::CompactWriter h;
        h.begin_struct();
        h.field_i32(1, 0);  // DATA_PAGE
        h.field_i32(2, static_cast<int32_t>(p.body.size()));
        h.field_i32(3, static_cast<int32_t>(p.body.size()));
        h.field_struct_begin(5);
        h.field_i32(1, static_cast<int32_t>(p.num_values));
        h.field_i32(2, kPlain);
        h.field_i32(3, kRle);
        h.field_i32(4, kRle);
        h.end_struct();
        h.end_struct();
        emit(h.bytes());
        emit(p.body);
        m.num_values += p.num_values;
      }
      m.size = offset - m.offset;
      g.bytes += m.size;
      g.chunks.push_back(m);
      c.pages.clear();
      c.sealed_bytes = 0;
    }
    groups.push_back(std::move(g));
    group_rows = 0;
  }

  void schema_element(thrift::CompactWriter& w, const Field& f, Repetition rep) {
    w.element_struct_begin();
    if (f.kind == Kind::kString || f.kind == Kind::kInt64 || f.kind == Kind::kDouble) {
      w.field_i32(1, f.kind == Kind::kString ? kByteArrayType : f.kind == Kind::kInt64 ? kInt64Type : kDoubleType);
      w.field_i32(3, rep);
      w.field_binary(4, f.name);
      if (f.kind == Kind::kString) {
        w.field_i32(6, kUtf8);
        w.field_struct_begin(10);  // LogicalType.STRING
        w.field_struct_begin(1);
        w.end_struct();
        w.end_struct();
      }
    } else {
      w.field_i32(3, rep);
      w.field_binary(4, f.name);
      w.field_i32(5, static_cast<int32_t>(f.children.size()));
      if (f.kind == Kind::kList) {
        w.field_i32(6, kListConverted);
        w.field_struct_begin(10);  // LogicalType.LIST
        w.field_struct_begin(3);
        w.end_struct();
        w.end_struct();
      }
    }
    w.end_struct();
  }

  size_t count_elements(const Field& f) const {
    size_t n = 1;
    if (f.kind == Kind::kList) n += 1;  // the repeated "list" group
    for (const auto& c : f.children) n += count_elements(c);
    return n;
  }

  void schema_elements(thrift::CompactWriter& w, const Field& f) {
    Repetition rep = f.optional ? kOptional : kRequired;
    schema_element(w, f, rep);
    if (f.kind == Kind::kList) {
      w.element_struct_begin();
      w.field_i32(3, kRepeated);
      w.field_binary(4, "list");
      w.field_i32(5, 1);
      w.end_struct();
    }
    for (const auto& c : f.children) schema_elements(w, c);
  }

  void footer() {
    thrift::CompactWriter w;
    w.begin_struct();
    w.field_i32(1, 1);  // version
    size_t elements = 1;
    for (const auto& f : fields) elements += count_elements(f);
    w.field_list_begin(2, thrift::Type::kStruct, elements);
    w.element_struct_begin();  // the root
    w.field_binary(4, "schema");
    w.field_i32(5, static_cast<int32_t>(fields.size()));
    w.end_struct();
    for (const auto& f : fields) schema_elements(w, f);
    w.field_i64(3, rows);
    w.field_list_begin(4, thrift::Type::kStruct, groups.size());
    for (const auto& g : groups) {
      w.element_struct_begin();
      w.field_list_begin(1, thrift::Type::kStruct, g.chunks.size());
      for (size_t ci = 0; ci < g.chunks.size(); ++ci) {
        const auto& m = g.chunks[ci];
        const auto& c = columns[ci];
        w.element_struct_begin();
        w.field_i64(2, m.offset);
        w.field_struct_begin(3);  // ColumnMetaData
        w.field_i32(1, c.kind == Kind::kString ? kByteArrayType : c.kind == Kind::kInt64 ? kInt64Type : kDoubleType);
        w.field_list_begin(2, thrift::Type::kI32, 2);
        w.element_i32(kPlain);
        w.element_i32(kRle);
        w.field_list_begin(3, thrift::Type::kBinary, c.path.size());
        for (const auto& p : c.path) w.element_binary(p);
        w.field_i32(4, 0);  // UNCOMPRESSED
        w.field_i64(5, m.num_values);
        w.field_i64(6, m.size);
        w.field_i64(7, m.size);
        w.field_i64(9, m.offset);
        w.end_struct();
        w.end_struct();
      }
      w.field_i64(2, g.bytes);
      w.field_i64(3, g.rows);
      w.field_i64(5, g.chunks.empty() ? offset : g.chunks.front().offset);
      w.field_i64(6, g.bytes);
      w.end_struct();
    }
    w.field_binary(6, options.created_by);
    w.end_struct();
    emit(w.bytes());
    std::string tail;
    put_u32(tail, static_cast<uint32_t>(w.bytes().size()));
    tail += "PAR1";
    emit(tail);
  }
};

Writer::Writer(std::vector<Field> fields, Sink sink, WriterOptions options) : impl_(std::make_unique<Impl>()) {
  if (fields.empty()) throw std::invalid_argument("parquet schema: no fields");
  impl_->fields = std::move(fields);
  impl_->sink = std::move(sink);
  impl_->options = std::move(options);
  for (const auto& f : impl_->fields) impl_->roots.push_back(impl_->plan(f, {}, 0, 0));
  impl_->emit("PAR1");
}

Writer::~Writer() = default;

int64_t Writer::rows() const { return impl_->rows; }

void Writer::write_row(const json& row) {
  auto& m = *impl_;
  if (m.finished) throw std::logic_error("parquet: write_row after finish");
  if (!row.is_object()) throw std::invalid_argument("parquet row: expected an object");
  for (const auto& n : m.roots) {
    auto it = row.find(n.field->name);
    check_value(*n.field, it == row.end() ? nullptr : &*it, n.field->name);
  }
  for (const auto& n : m.roots) {
    auto it = row.find(n.field->name);
    m.shred(n, it == row.end() ? nullptr : &*it, 0, 0, 0);
  }
  ++m.rows;
  ++m.group_rows;
  int64_t group_bytes = 0;
  for (auto& c : m.columns) {
    if (c.open_bytes() >= m.options.page_bytes) c.seal_page();
    group_bytes += c.sealed_bytes + c.open_bytes();
  }
  if (m.group_rows >= m.options.row_group_rows || group_bytes >= m.options.row_group_bytes) m.flush_row_group();
}

void Writer::finish() {
  auto& m = *impl_;
  if (m.finished) return;
  m.flush_row_group();
  m.footer();
  m.finished = true;
}

}  // namespace envforge::data::parquet
