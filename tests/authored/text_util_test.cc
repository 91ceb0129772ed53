#include "generators/authored/text_util.h"

#include <gtest/gtest.h>

namespace envforge::generators::authored {
namespace {

TEST(TextUtil, Utf8IsCheckedAndRepaired) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));              // cut short
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_EQ(to_valid_utf8("a\xFF" "b\xC3"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  EXPECT_EQ(to_valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(TextUtil, ClipNeverSplitsACharacter) {
  EXPECT_EQ(clip_text("short", 10), "short");
  const std::string cut = clip_text("ab\xC3\xA9" "cd", 3);
  EXPECT_EQ(cut.rfind("ab\n[... 4 more bytes", 0), 0u) << cut;
  EXPECT_TRUE(is_valid_utf8(cut));
}

TEST(TextUtil, Base64DecodesStrictly) {
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_EQ(base64_decode("TWFu"), "Man");
  EXPECT_EQ(base64_decode("TWE="), "Ma");
  EXPECT_EQ(base64_decode("TQ=="), "M");
  EXPECT_EQ(base64_decode("AP8="), std::string("\0\xFF", 2));
  EXPECT_FALSE(base64_decode("TQ="));     // not a multiple of four
  EXPECT_FALSE(base64_decode("T=Q="));    // data after padding
  EXPECT_FALSE(base64_decode("TQ==TWFu"));  // padding before the end
  EXPECT_FALSE(base64_decode("TW!u"));
}

}  // namespace
}  // namespace envforge::generators::authored
