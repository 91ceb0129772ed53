// --log-json writes one parseable JSON object per line; the text format does not.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/logging.h"

namespace envforge::cli {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

TEST(Logging, JsonLinesAreValidJsonWithEscapedMessages) {
  setup_logging({.level = "info", .json = true});
  testing::internal::CaptureStderr();
  spdlog::info("wrote {} items to \"{}\"\nsecond line", 3, "c.db");
  spdlog::debug("hidden at info level");
  spdlog::warn("careful");
  std::string err = testing::internal::GetCapturedStderr();
  auto lines = lines_of(err);
  ASSERT_EQ(lines.size(), 2u) << err;
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["msg"], "wrote 3 items to \"c.db\"\nsecond line");
  EXPECT_EQ(first["logger"], "envforge");
  EXPECT_EQ(first["ts"].get<std::string>().back(), 'Z');
  EXPECT_EQ(nlohmann::json::parse(lines[1])["level"], "warning");
}

TEST(Logging, TextFormatAndLevel) {
  setup_logging({.level = "debug", .json = false});
  testing::internal::CaptureStderr();
  spdlog::debug("shown at debug");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("shown at debug"), std::string::npos);
  EXPECT_THROW(auto parsed = nlohmann::json::parse(err); (void)parsed, nlohmann::json::parse_error);
  setup_logging({});
}

}  // namespace
}  // namespace envforge::cli
