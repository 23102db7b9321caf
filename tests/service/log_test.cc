// The JSON log line format (service/log.h) and its string escaping
// (AppendJsonString, service/json.h): exact lines for fixed inputs, and
// lines that always parse back as JSON, whatever bytes the message holds.
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/json.h"
#include "service/log.h"

namespace wxvault::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Collects every line written while installed.
class CapturingSink : public LogSink {
 public:
  CapturingSink() : previous_(SetLogSink(this)) {}
  ~CapturingSink() override { SetLogSink(previous_); }
  void Write(LogLevel level, absl::string_view line) override {
    absl::MutexLock lock(&mu_);
    lines_.emplace_back(line);
  }
  std::vector<std::string> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  LogSink* const previous_;
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

std::string Quoted(absl::string_view text) {
  std::string out;
  AppendJsonString(text, &out);
  return out;
}

JsonValue ParseObject(const std::string& line) {
  absl::StatusOr<JsonValue> parsed = ParseJson(line);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << ": " << line;
  EXPECT_TRUE(parsed.ok() && parsed->is_object()) << line;
  return parsed.ok() ? *parsed : JsonValue();
}

std::string StringField(const JsonValue& object, absl::string_view key) {
  const JsonValue* value = object.Find(key);
  return value != nullptr && value->is_string() ? value->string_value() : "<missing>";
}

TEST(AppendJsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Quoted("plain /path"), "\"plain /path\"");
  EXPECT_EQ(Quoted("say \"hi\" \\ bye"), "\"say \\\"hi\\\" \\\\ bye\"");
  EXPECT_EQ(Quoted("a\nb\rc\td\be\ff"), "\"a\\nb\\rc\\td\\be\\ff\"");
  EXPECT_EQ(Quoted(std::string("nul\0one\x01 esc\x1b del\x7f", 18)),
            "\"nul\\u0000one\\u0001 esc\\u001b del\\u007f\"");
}

TEST(AppendJsonStringTest, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Quoted("微信 😀"), "\"微信 😀\"");
  // A lone continuation byte, a truncated sequence, an overlong encoding, a
  // surrogate and a byte that never appears in UTF-8: each byte -> U+FFFD.
  EXPECT_EQ(Quoted("a\x80z"), "\"a\xEF\xBF\xBDz\"");
  EXPECT_EQ(Quoted("\xE5\xBE"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xFF"), "\"\xEF\xBF\xBD\"");
}

TEST(AppendJsonStringTest, EveryByteStringParsesBack) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (const std::string& text : {all, std::string("\xF0\x9F\x98"), std::string(300, '\xC3')}) {
    absl::StatusOr<JsonValue> parsed = ParseJson(Quoted(text));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(parsed->is_string());
  }
  // ASCII printable text round-trips exactly.
  std::string printable;
  for (char c = 0x20; c < 0x7f; ++c) printable.push_back(c);
  EXPECT_EQ(ParseJson(Quoted(printable))->string_value(), printable);
}

TEST(FormatLogRecordTest, ExactLine) {
  const std::vector<LogField> fields = {LogField("audit", true), LogField("count", 42), LogField("ratio", 0.5),
                                        LogField("what", "/wxvault.v1.VaultAdmin/Compact")};
  LogRecord record;
  record.time = absl::FromUnixMillis(1750000000123);
  record.level = LogLevel::kWarning;
  record.file = "/src/service/vault_admin_service.cc";
  record.line = 57;
  record.message = "audit: admin Compact OK";
  record.fields = &fields;
  EXPECT_EQ(FormatLogRecord(record),
            "{\"time\":\"2025-06-15T15:06:40.123Z\",\"level\":\"warning\",\"msg\":\"audit: admin Compact OK\","
            "\"component\":\"vault_admin_service\",\"caller\":\"vault_admin_service.cc:57\",\"audit\":true,"
            "\"count\":42,\"ratio\":0.5,\"what\":\"/wxvault.v1.VaultAdmin/Compact\"}");
}

TEST(FormatLogRecordTest, ScopesComponentOverrideReservedAndDuplicateKeys) {
  const std::vector<LogField> outer = {LogField("request_id", "outer-id"), LogField("peer", "unix:")};
  const std::vector<LogField> inner = {LogField("request_id", "inner-id"), LogField("method", "/a.B/C")};
  ScopedLogFields outer_scope(&outer);
  ScopedLogFields inner_scope(&inner);
  const std::vector<LogField> fields = {LogField("component", "grpc"), LogField("msg", "ignored"),
                                        LogField("time", "ignored"), LogField("method", "ignored too"),
                                        LogField("n", -7)};
  LogRecord record;
  record.time = absl::UnixEpoch();
  record.level = LogLevel::kDebug;
  record.file = "chttp2.cc";
  record.line = 1;
  record.message = "m";
  record.fields = &fields;
  record.scope = &inner_scope;
  EXPECT_EQ(FormatLogRecord(record),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"debug\",\"msg\":\"m\",\"component\":\"grpc\","
            "\"caller\":\"chttp2.cc:1\",\"request_id\":\"inner-id\",\"method\":\"/a.B/C\",\"peer\":\"unix:\","
            "\"n\":-7}");
}

TEST(FormatLogRecordTest, NonFiniteNumbersBecomeStrings) {
  const std::vector<LogField> fields = {LogField("inf", 1.0 / 0.0), LogField("big", uint64_t{18446744073709551615u})};
  LogRecord record;
  record.message = "x";
  record.fields = &fields;
  const JsonValue object = ParseObject(FormatLogRecord(record));
  EXPECT_EQ(StringField(object, "inf"), "inf");
  EXPECT_EQ(object.Find("big")->number_lexeme(), "18446744073709551615");
}

TEST(LogTest, WxvLogWritesOneParsableLinePerRecord) {
  CapturingSink sink;
  const std::string hostile = std::string("line1\nline2\r\t\"q\" \\ \x01\x1f\x7f \xff\xfe 😀 ") + "end";
  WXV_LOG(INFO) << "user said: " << hostile << LogField("field", hostile) << " (done)";
  WXV_LOG(ERROR) << LogField("code", 3) << "second";
  const std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\r'), std::string::npos);
  }
  const JsonValue first = ParseObject(lines[0]);
  EXPECT_EQ(StringField(first, "level"), "info");
  EXPECT_EQ(StringField(first, "component"), "log_test");
  EXPECT_THAT(StringField(first, "caller"), HasSubstr("log_test.cc:"));
  EXPECT_THAT(StringField(first, "msg"), HasSubstr("user said: line1\nline2\r\t\"q\" \\ "));
  EXPECT_THAT(StringField(first, "msg"), HasSubstr("\xEF\xBF\xBD\xEF\xBF\xBD 😀 end (done)"));
  EXPECT_THAT(StringField(first, "field"), HasSubstr("line1\nline2"));
  EXPECT_EQ(first.keys().front(), "time");
  EXPECT_EQ(StringField(first, "time").size(), std::string("2025-06-15T15:06:40.123Z").size());
  const JsonValue second = ParseObject(lines[1]);
  EXPECT_EQ(StringField(second, "level"), "error");
  EXPECT_EQ(StringField(second, "msg"), "second");
  EXPECT_EQ(second.Find("code")->number_lexeme(), "3");
}

TEST(LogTest, ScopedFieldsStayOnTheirThread) {
  CapturingSink sink;
  const std::vector<LogField> fields = {LogField("request_id", "req-1")};
  {
    ScopedLogFields scope(&fields);
    WXV_LOG(INFO) << "inside";
    std::thread other([] { WXV_LOG(INFO) << "other thread"; });
    other.join();
  }
  WXV_LOG(INFO) << "after";
  const std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(StringField(ParseObject(lines[0]), "request_id"), "req-1");
  EXPECT_EQ(ParseObject(lines[1]).Find("request_id"), nullptr);
  EXPECT_EQ(ParseObject(lines[2]).Find("request_id"), nullptr);
}

TEST(LogTest, MinLevelAndLevelNames) {
  CapturingSink sink;
  SetMinLogLevel(LogLevel::kWarning);
  WXV_LOG(INFO) << "dropped";
  WXV_LOG(WARNING) << "kept";
  SetMinLogLevel(LogLevel::kInfo);
  WXV_LOG(DEBUG) << "dropped too";
  ASSERT_EQ(sink.lines().size(), 1u);
  EXPECT_EQ(StringField(ParseObject(sink.lines()[0]), "msg"), "kept");
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    EXPECT_EQ(ParseLogLevel(LogLevelName(level)), level);
  }
  EXPECT_FALSE(ParseLogLevel("INFO").has_value());
  EXPECT_FALSE(ParseLogLevel("").has_value());
}

TEST(LogTest, LogFieldOnAPlainStreamIsKeyEqualsValue) {
  std::ostringstream out;
  out << LogField("a", "b") << ' ' << LogField("n", 1);
  EXPECT_EQ(out.str(), "a=\"b\" n=1");
}

TEST(LogTest, ConcurrentRecordsAreWholeLines) {
  CapturingSink sink;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      const std::vector<LogField> fields = {LogField("thread", t)};
      ScopedLogFields scope(&fields);
      for (int i = 0; i < 200; ++i) WXV_LOG(INFO) << "record " << i;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), 800u);
  for (const std::string& line : lines) ASSERT_TRUE(ParseJson(line).ok()) << line;
}

TEST(LogTest, LevelNamesMatchTheDocumentedSet) {
  std::vector<std::string> names;
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    names.emplace_back(LogLevelName(level));
  }
  EXPECT_THAT(names, ElementsAre("debug", "info", "warning", "error"));
}

}  // namespace
}  // namespace wxvault::service
