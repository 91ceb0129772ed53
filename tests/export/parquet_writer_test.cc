// data/export/parquet_writer: files written through the Writer are read back by hyparquet
// (an independent reader) and every value compared, nesting, nulls and edge values included.
#include "data/export/parquet_writer.h"

#include <gtest/gtest.h>

#include <climits>
#include <fstream>
#include <stdexcept>

#include "tests/export/export_test_util.h"

namespace envforge::data::parquet {
namespace {

using nlohmann::json;
using data::testing::TempDir;
using exports_testing::read_parquet;

// Writes `rows` to a file in `dir` and returns its path.
std::string write_file(const TempDir& dir, const std::vector<Field>& fields, const std::vector<json>& rows,
                       WriterOptions options = {}) {
  std::string path = dir.file("t.parquet");
  std::ofstream out(path, std::ios::binary);
  Writer w(fields, [&](std::string_view b) { out.write(b.data(), static_cast<std::streamsize>(b.size())); },
           options);
  for (const auto& r : rows) w.write_row(r);
  w.finish();
  EXPECT_EQ(w.rows(), static_cast<int64_t>(rows.size()));
  return path;
}

TEST(ParquetWriter, FlatColumnsWithNullsAndEdgeValues) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::vector<Field> fields = {Field::string("s"), Field::int64("i"), Field::float64("d"),
                               Field::string("os", true), Field::int64("oi", true)};
  std::string nul("a\0b", 3);
  std::vector<json> rows = {
      {{"s", ""}, {"i", 0}, {"d", 0.0}, {"os", nullptr}, {"oi", nullptr}},
      {{"s", "héllo wörld ✓ 日本語 🚀 e\u0301"}, {"i", -1}, {"d", -2.5}, {"os", ""}, {"oi", 7}},
      {{"s", nul}, {"i", INT64_MAX}, {"d", 1e308}, {"oi", INT64_MIN}},  // "os" missing: null
      {{"s", "\"quotes\" \\ \n\t"}, {"i", 9007199254740993LL}, {"d", 0.1}, {"os", "x"}, {"oi", nullptr}},
  };
  json back = read_parquet(write_file(dir, fields, rows));
  EXPECT_EQ(back["num_rows"], 4);
  EXPECT_EQ(back["columns"], json({"s", "i", "d", "os", "oi"}));
  ASSERT_EQ(back["rows"].size(), 4u);
  const auto& r = back["rows"];
  EXPECT_EQ(r[0], json({{"s", ""}, {"i", 0}, {"d", 0.0}, {"os", nullptr}, {"oi", nullptr}}));
  EXPECT_EQ(r[1], rows[1]);
  EXPECT_EQ(r[2]["s"], nul);
  EXPECT_EQ(r[2]["i"], "9223372036854775807");
  EXPECT_EQ(r[2]["d"], 1e308);
  EXPECT_EQ(r[2]["os"], nullptr);
  EXPECT_EQ(r[2]["oi"], "-9223372036854775808");
  EXPECT_EQ(r[3]["s"], "\"quotes\" \\ \n\t");
  EXPECT_EQ(r[3]["i"], "9007199254740993");
  EXPECT_EQ(r[3]["d"], 0.1);
}

TEST(ParquetWriter, NestedStructsAndListsKeepTheirShape) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::vector<Field> fields = {
      Field::list("prompt", Field::structure("m", {Field::string("role"), Field::string("content")})),
      Field::structure("info", {Field::int64("n"), Field::structure("deep", {Field::string("x", true)}, true)}),
      Field::list("tags", Field::string("t", true), true),
      Field::list("grid", Field::list("row", Field::int64("v"))),
      Field::structure("opt", {Field::string("a"), Field::list("xs", Field::int64("x"), true)}, true),
  };
  std::vector<json> rows = {
      {{"prompt", {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}}},
       {"info", {{"n", 1}, {"deep", {{"x", "y"}}}}},
       {"tags", {"a", nullptr, "c"}},
       {"grid", {{1, 2}, json::array(), {3}}},
       {"opt", {{"a", "z"}, {"xs", {5, 6}}}}},
      {{"prompt", json::array()},
       {"info", {{"n", 2}, {"deep", nullptr}}},
       {"tags", nullptr},
       {"grid", json::array()},
       {"opt", nullptr}},
      {{"prompt", {{{"role", "user"}, {"content", ""}}}},
       {"info", {{"n", 3}, {"deep", {{"x", nullptr}}}}},
       {"tags", json::array()},
       {"grid", {json::array(), json::array()}},
       {"opt", {{"a", ""}, {"xs", json::array()}}}},
  };
  json back = read_parquet(write_file(dir, fields, rows));
  ASSERT_EQ(back["rows"].size(), 3u);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(back["rows"][i], rows[i]) << "row " << i;
  EXPECT_EQ(back["columns"], json({"prompt.list.element.role", "prompt.list.element.content", "info.n",
                                   "info.deep.x", "tags.list.element", "grid.list.element.list.element",
                                   "opt.a", "opt.xs.list.element"}));
}

TEST(ParquetWriter, ManyRowGroupsAndPagesReadBackInOrder) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::vector<Field> fields = {Field::int64("i"), Field::list("words", Field::string("w")),
                               Field::string("note", true)};
  std::vector<json> rows;
  for (int i = 0; i < 1000; ++i) {
    json words = json::array();
    for (int k = 0; k < i % 5; ++k) words.push_back("w" + std::to_string(i) + "_" + std::to_string(k));
    rows.push_back({{"i", i}, {"words", words}, {"note", i % 3 ? json("n" + std::to_string(i)) : json()}});
  }
  WriterOptions small;
  small.row_group_rows = 64;
  small.page_bytes = 300;  // several pages per column chunk
  json back = read_parquet(write_file(dir, fields, rows, small));
  EXPECT_EQ(back["num_rows"], 1000);
  EXPECT_EQ(back["row_groups"], 16);  // 15 x 64 + 40
  EXPECT_EQ(back["rows_per_group"][15], 40);
  ASSERT_EQ(back["rows"].size(), 1000u);
  for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(back["rows"][i], rows[i]) << "row " << i;
}

TEST(ParquetWriter, RowGroupsEndByBytesToo) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::vector<Field> fields = {Field::string("s")};
  std::vector<json> rows;
  for (int i = 0; i < 10; ++i) rows.push_back({{"s", std::string(1000, static_cast<char>('a' + i))}});
  WriterOptions small;
  small.row_group_bytes = 2500;  // three 1 KB values per group
  json back = read_parquet(write_file(dir, fields, rows, small));
  EXPECT_EQ(back["row_groups"], 4);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(back["rows"][i], rows[i]) << "row " << i;
}

TEST(ParquetWriter, HugeValuesSurvive) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::string huge;
  for (int i = 0; huge.size() < 6 * 1024 * 1024; ++i) huge += "line " + std::to_string(i) + " ünïcødé\n";
  std::vector<Field> fields = {Field::list("prompt", Field::structure("m", {Field::string("role"), Field::string("content")})),
                               Field::int64("k")};
  std::vector<json> rows = {{{"prompt", {{{"role", "user"}, {"content", huge}}}}, {"k", 1}},
                            {{"prompt", {{{"role", "user"}, {"content", "small"}}}}, {"k", 2}}};
  json back = read_parquet(write_file(dir, fields, rows));
  ASSERT_EQ(back["rows"].size(), 2u);
  EXPECT_EQ(back["rows"][0]["prompt"][0]["content"].get<std::string>().size(), huge.size());
  EXPECT_EQ(back["rows"][0], rows[0]);
  EXPECT_EQ(back["rows"][1], rows[1]);
}

TEST(ParquetWriter, ZeroRowsIsAValidFileWithTheSchema) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::vector<Field> fields = {Field::string("a"), Field::structure("b", {Field::int64("c")})};
  std::string path = write_file(dir, fields, {});
  std::string bytes = data::testing::read_bytes(path);
  EXPECT_EQ(bytes.substr(0, 4), "PAR1");
  EXPECT_EQ(bytes.substr(bytes.size() - 4), "PAR1");
  json back = read_parquet(path);
  EXPECT_EQ(back["num_rows"], 0);
  EXPECT_EQ(back["rows"], json::array());
  EXPECT_EQ(back["schema"], json({"schema", "a", "b", "c"}));
}

TEST(ParquetWriter, ARowThatDoesNotFitIsRejectedWholeAndNamed) {
  SKIP_WITHOUT_HYPARQUET();
  TempDir dir;
  std::vector<Field> fields = {Field::string("a"),
                               Field::list("ms", Field::structure("m", {Field::string("role"), Field::int64("n")}))};
  std::string path = dir.file("t.parquet");
  std::ofstream out(path, std::ios::binary);
  Writer w(fields, [&](std::string_view b) { out.write(b.data(), static_cast<std::streamsize>(b.size())); });
  json good1 = {{"a", "1"}, {"ms", {{{"role", "x"}, {"n", 1}}}}};
  json good2 = {{"a", "2"}, {"ms", json::array()}};
  w.write_row(good1);
  auto expect_error = [&](const json& row, const std::string& text) {
    try {
      w.write_row(row);
      ADD_FAILURE() << "accepted " << row.dump();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  // The first element is fine and would be shredded before the second fails.
  expect_error({{"a", "bad"}, {"ms", {{{"role", "ok"}, {"n", 1}}, {{"role", "ok"}, {"n", "two"}}}}},
               "ms[1].n: expected an integer");
  expect_error({{"a", "bad"}, {"ms", {{{"role", "ok"}}}}}, "ms[0].n: missing");
  expect_error({{"ms", json::array()}}, "field a: missing");
  expect_error({{"a", 5}, {"ms", json::array()}}, "field a: expected a string");
  expect_error({{"a", "x"}, {"ms", {{"role", "x"}}}}, "ms: expected an array");
  expect_error({{"a", "x"}, {"ms", {{{"role", "x"}, {"n", 18446744073709551615ull}}}}}, "expected an integer");
  expect_error(json::array(), "expected an object");
  w.write_row(good2);
  w.finish();
  EXPECT_THROW(w.write_row(good1), std::logic_error);
  out.close();
  json back = read_parquet(path);
  ASSERT_EQ(back["rows"].size(), 2u);
  EXPECT_EQ(back["rows"][0], good1);
  EXPECT_EQ(back["rows"][1], good2);
}

TEST(ParquetWriter, UnusableSchemasAreRefused) {
  auto sink = [](std::string_view) {};
  EXPECT_THROW(Writer({}, sink), std::invalid_argument);
  EXPECT_THROW(Writer({Field::structure("s", {})}, sink), std::invalid_argument);
  EXPECT_THROW(Writer({Field::string("")}, sink), std::invalid_argument);
  Field bad_list{"l", Kind::kList, false, {}};
  EXPECT_THROW(Writer({bad_list}, sink), std::invalid_argument);
}

TEST(ParquetWriter, ASinkErrorPropagates) {
  int calls = 0;
  auto failing = [&](std::string_view) {
    if (++calls > 1) throw std::runtime_error("disk full");
  };
  Writer w({Field::string("a")}, failing);
  w.write_row({{"a", "x"}});
  EXPECT_THROW(w.finish(), std::runtime_error);
}

}  // namespace
}  // namespace envforge::data::parquet
