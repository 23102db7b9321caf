#include "service/json.h"

#include <string>

#include "gtest/gtest.h"

namespace wxvault::service {
namespace {

std::string DecodeString(absl::string_view json) {
  absl::StatusOr<JsonValue> v = ParseJson(json);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return "<error>";
  EXPECT_TRUE(v->is_string());
  return v->string_value();
}

TEST(JsonTest, ParsesAllValueTypes) {
  auto v = ParseJson(
      R"( {"s":"x","n":-12,"f":1.5e3,"t":true,"F":false,"z":null,"a":[1,[]],"o":{}} )");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->is_object());
  EXPECT_EQ(v->Find("s")->string_value(), "x");
  EXPECT_EQ(v->Find("n")->AsInt64(), -12);
  EXPECT_EQ(v->Find("f")->AsInt64(), absl::nullopt);
  EXPECT_EQ(v->Find("f")->AsDouble(), 1500.0);
  EXPECT_TRUE(v->Find("t")->bool_value());
  EXPECT_TRUE(v->Find("F")->is_bool());
  EXPECT_FALSE(v->Find("F")->bool_value());
  EXPECT_TRUE(v->Find("z")->is_null());
  EXPECT_EQ(v->Find("a")->items().size(), 2u);
  EXPECT_TRUE(v->Find("o")->is_object());
  EXPECT_EQ(v->Find("missing"), nullptr);
  EXPECT_EQ(v->keys().front(), "s");
}

TEST(JsonTest, DecodesEscapes) {
  EXPECT_EQ(DecodeString(R"("https:\/\/thirdwx.qlogo.cn\/x")"),
            "https://thirdwx.qlogo.cn/x");
  EXPECT_EQ(DecodeString(R"("a\"b\\c\b\f\n\r\t")"), "a\"b\\c\b\f\n\r\t");
  EXPECT_EQ(DecodeString(R"("\u00e9\u4e2d")"), "\xC3\xA9\xE4\xB8\xAD");
  // Surrogate pair -> one 4-byte character (U+1F600).
  EXPECT_EQ(DecodeString(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(DecodeString(R"("\uD83D\uDE00")"), "\xF0\x9F\x98\x80");
  // Raw 4-byte UTF-8 passes through.
  EXPECT_EQ(DecodeString("\"\xF0\x9F\x98\x80\""), "\xF0\x9F\x98\x80");
}

TEST(JsonTest, RepairsBrokenUnicode) {
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(DecodeString(R"("\ud83dx")"), kFffd + "x");        // lone high
  EXPECT_EQ(DecodeString(R"("\ude00")"), kFffd);                // lone low
  EXPECT_EQ(DecodeString(R"("\ud83d\u0041")"), kFffd + "A");    // high + BMP
  EXPECT_EQ(DecodeString("\"\xFF\""), kFffd);                   // invalid byte
  EXPECT_EQ(DecodeString("\"\xC0\xAF\""), kFffd + kFffd);       // overlong
  EXPECT_EQ(DecodeString("\"\xED\xA0\x80\""), kFffd + kFffd + kFffd);
  EXPECT_EQ(DecodeString("\"\xF0\x9F\x98\""), kFffd + kFffd + kFffd);  // cut
  EXPECT_EQ(DecodeString(R"("a\u0000b")"), "ab");  // no NUL bytes
}

TEST(JsonTest, DropsRawControlCharactersInStrings) {
  EXPECT_EQ(DecodeString("\"\x01nick\x1f\nname\t\""), "nickname");
}

TEST(JsonTest, RejectsMalformedInput) {
  for (const char* bad :
       {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'",
        "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
        "\"\\x\"", "\"\\u12\"", "[1 2]", "{\"a\":1}x", "{} {}", "NaN",
        "Infinity", "{\"a\":1,\"a\":2}", "\"a\"\x01"}) {
    SCOPED_TRACE(bad);
    auto v = ParseJson(bad);
    EXPECT_FALSE(v.ok());
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(JsonTest, ErrorsDoNotEchoInput) {
  auto v = ParseJson(R"({"access_token":"SECRET_TOKEN_VALUE" "x"})");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message().find("SECRET"), absl::string_view::npos);
  EXPECT_NE(v.status().message().find("byte"), absl::string_view::npos);
}

TEST(JsonTest, EnforcesLimits) {
  JsonLimits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(ParseJson("[[[[1]]]]", limits).ok());
  EXPECT_FALSE(ParseJson("[[[[[1]]]]]", limits).ok());
  EXPECT_FALSE(ParseJson(R"({"a":{"b":{"c":{"d":{}}}}})", limits).ok());
  // Default depth keeps a deep bomb from overflowing the stack.
  EXPECT_FALSE(ParseJson(std::string(100000, '[')).ok());
  limits = JsonLimits();
  limits.max_bytes = 8;
  EXPECT_TRUE(ParseJson("[1,2,3]", limits).ok());
  EXPECT_FALSE(ParseJson("[1,2,3,4]", limits).ok());
}

TEST(JsonTest, IntegersOutOfRangeAreNotInt64) {
  auto v = ParseJson("[9223372036854775807, 9223372036854775808, -0, 1e2]");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->items()[0].AsInt64(), INT64_MAX);
  EXPECT_EQ(v->items()[1].AsInt64(), absl::nullopt);
  EXPECT_EQ(v->items()[2].AsInt64(), 0);
  EXPECT_EQ(v->items()[3].AsInt64(), absl::nullopt);
  EXPECT_EQ(v->items()[3].number_lexeme(), "1e2");
}

}  // namespace
}  // namespace wxvault::service
