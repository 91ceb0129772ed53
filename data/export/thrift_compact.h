// Thrift's compact protocol, write side only: what a Parquet footer and page headers need
// (structs of i32/i64/binary/list/struct fields, written in increasing field-id order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace envforge::data::thrift {

// Compact-protocol type codes of a field header or a list's element type.
enum class Type : uint8_t { kI32 = 5, kI64 = 6, kBinary = 8, kList = 9, kStruct = 12 };

class CompactWriter {
 public:
  // Field headers carry the delta from the previous field id of the enclosing struct,
  // so ids must rise within a struct; begin_struct/end_struct keep one "last id" per level.
  void begin_struct();
  void end_struct();  // writes the stop byte

  void field_i32(int16_t id, int32_t value);
  void field_i64(int16_t id, int64_t value);
  void field_binary(int16_t id, std::string_view value);
  void field_struct_begin(int16_t id);  // then the fields, then end_struct()
  void field_list_begin(int16_t id, Type element, size_t size);  // then the elements

  // Elements of a list.
  void element_i32(int32_t value) { varint(zigzag(value)); }
  void element_binary(std::string_view value);
  void element_struct_begin() { begin_struct(); }

  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void field_header(int16_t id, Type type);
  void varint(uint64_t value);
  static uint64_t zigzag(int64_t value) {
    return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  }

  std::string out_;
  std::vector<int16_t> last_id_;
};

}  // namespace envforge::data::thrift
