#include "data/export/thrift_compact.h"

#include <stdexcept>

namespace envforge::data::thrift {

void CompactWriter::begin_struct() { last_id_.push_back(0); }

void CompactWriter::end_struct() {
  if (last_id_.empty()) throw std::logic_error("thrift: end_struct without begin_struct");
  last_id_.pop_back();
  out_.push_back(0);  // stop
}

void CompactWriter::field_header(int16_t id, Type type) {
  if (last_id_.empty()) throw std::logic_error("thrift: field outside a struct");
  int16_t& last = last_id_.back();
  if (id <= last) throw std::logic_error("thrift: field ids must rise within a struct");
  int delta = id - last;
  if (delta <= 15) {
    out_.push_back(static_cast<char>((delta << 4) | static_cast<uint8_t>(type)));
  } else {
    out_.push_back(static_cast<char>(type));
    varint(zigzag(id));
  }
  last = id;
}

void CompactWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void CompactWriter::field_i32(int16_t id, int32_t value) {
  field_header(id, Type::kI32);
  varint(zigzag(value));
}

void CompactWriter::field_i64(int16_t id, int64_t value) {
  field_header(id, Type::kI64);
  varint(zigzag(value));
}

void CompactWriter::field_binary(int16_t id, std::string_view value) {
  field_header(id, Type::kBinary);
  element_binary(value);
}

void CompactWriter::element_binary(std::string_view value) {
  varint(value.size());
  out_.append(value);
}

void CompactWriter::field_struct_begin(int16_t id) {
  field_header(id, Type::kStruct);
  begin_struct();
}

void CompactWriter::field_list_begin(int16_t id, Type element, size_t size) {
  field_header(id, Type::kList);
  if (size < 15) {
    out_.push_back(static_cast<char>((size << 4) | static_cast<uint8_t>(element)));
  } else {
    out_.push_back(static_cast<char>(0xf0 | static_cast<uint8_t>(element)));
    varint(size);
  }
}

}  // namespace envforge::data::thrift
