// Log: leveled, structured log records for every wxvault component, one
// JSON object per line.
//
// Each record is one line on stderr (or on the installed LogSink):
//   {"time":"2025-06-15T08:53:20.123Z","level":"info","msg":"vault open",
//    "component":"server","caller":"server.cc:160","request_id":"9f0c...",
//    "method":"/wxvault.v1.TokenVault/Exchange","peer":"ipv4:127.0.0.1:5123"}
// (shown wrapped; a record never contains a newline). Keys, in order:
//   time       RFC 3339, UTC, milliseconds
//   level      "debug", "info", "warning" or "error"
//   msg        everything streamed into the record that is not a LogField
//   component  the source file's stem ("wechat_client"), unless the record
//              sets its own LogField("component", ...)
//   caller     "file.cc:line"
//   then the fields of every enclosing ScopedLogFields on this thread (the
//   RPC being served: request_id, method, peer), innermost first, then the
//   record's own LogFields. A key already written is not repeated.
// Strings are escaped by AppendJsonString (json.h): control characters are
// escaped and bytes that are not UTF-8 become U+FFFD, so every line parses.
//
// Usage:
//   WXV_LOG(INFO) << "refresher started, " << n << " tokens due";
//   WXV_LOG(INFO) << LogField("audit", true) << LogField("result", "OK")
//                 << "audit: admin GetVaultStatus";
//
// Secrets: never stream a token, code or app secret, neither in the message
// nor in a field. URLs to WeChat carry secrets in their query strings: log
// them only through RedactUrl().
//
// Thread safety: every function here is safe to call concurrently. A sink
// installed with SetLogSink() receives Write() calls from any thread, one at
// a time. ScopedLogFields affects only the thread that created it.
#ifndef WXVAULT_SERVICE_LOG_H_
#define WXVAULT_SERVICE_LOG_H_

#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace wxvault::service {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error".
absl::string_view LogLevelName(LogLevel level);
// The inverse of LogLevelName; nullopt for anything else.
absl::optional<LogLevel> ParseLogLevel(absl::string_view name);

// Where finished log lines go. Implementations must be thread-safe.
class LogSink {
 public:
  virtual ~LogSink() = default;
  // `line` is one complete JSON record without the trailing newline.
  virtual void Write(LogLevel level, absl::string_view line) = 0;
};

// Installs `sink` for all later records and returns the previous sink
// (nullptr means the built-in stderr sink). The caller keeps ownership and
// must keep `sink` alive until it is replaced.
LogSink* SetLogSink(LogSink* sink);

// Records below `level` are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);
bool ShouldLog(LogLevel level);

// Returns `url` without its query string and fragment:
// "https://api.weixin.qq.com/sns/auth?access_token=x" ->
// "https://api.weixin.qq.com/sns/auth". Userinfo ("user:pass@") is dropped too.
std::string RedactUrl(absl::string_view url);

// Returns `text` cut to `max_len` bytes with control characters replaced by
// '?', for quoting untrusted upstream text in a log line or Status message.
std::string SanitizeForLog(absl::string_view text, size_t max_len = 120);

// One key and its JSON-encoded value, for a record or a ScopedLogFields.
// Keys should be snake_case ASCII; "time", "level", "msg" and "caller" are
// taken by the record itself and are ignored here.
class LogField {
 public:
  LogField(absl::string_view key, absl::string_view value);
  LogField(absl::string_view key, const char* value) : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, const std::string& value) : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, bool value);
  // Finite doubles as JSON numbers; NaN and infinities as strings.
  LogField(absl::string_view key, double value);
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
  LogField(absl::string_view key, Int value) : key_(key), json_value_(absl::StrCat(value)) {}

  const std::string& key() const { return key_; }
  // The value as JSON text, e.g. "\"OK\"", "true", "42".
  const std::string& json_value() const { return json_value_; }

 private:
  std::string key_;
  std::string json_value_;
};

// Streamed into WXV_LOG, adds the field to the record; streamed into any
// other std::ostream, writes "key=value".
std::ostream& operator<<(std::ostream& os, const LogField& field);

// While alive, adds `fields` to every record logged on this thread (e.g. the
// request id of the RPC a worker serves). Scopes nest; construct and destroy
// on the same thread. `fields` is not copied and must outlive the scope.
class ScopedLogFields {
 public:
  explicit ScopedLogFields(const std::vector<LogField>* fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

  const std::vector<LogField>& fields() const { return *fields_; }
  const ScopedLogFields* outer() const { return outer_; }

 private:
  const std::vector<LogField>* const fields_;
  const ScopedLogFields* const outer_;
};

// Everything a record holds, for FormatLogRecord.
struct LogRecord {
  absl::Time time;
  LogLevel level = LogLevel::kInfo;
  absl::string_view file;  // a path; only its base name is written
  int line = 0;
  absl::string_view message;
  const std::vector<LogField>* fields = nullptr;  // the record's own; may be null
  const ScopedLogFields* scope = nullptr;         // innermost scope; may be null
};

// The JSON line for `record`, without a newline (see the file comment).
std::string FormatLogRecord(const LogRecord& record);

// One record; formatted and written to the sink when destroyed. Use WXV_LOG.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }
  void AddField(const LogField& field) { fields_.push_back(field); }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
  std::vector<LogField> fields_;
};

namespace log_internal {
// Turns the stream expression into void so WXV_LOG can sit in a ternary.
struct Voidify {
  void operator&(std::ostream&) {}
};
}  // namespace log_internal

}  // namespace wxvault::service

#define WXV_LOG_AT(lvl)                                 \
  !::wxvault::service::ShouldLog(lvl)                   \
      ? (void)0                                         \
      : ::wxvault::service::log_internal::Voidify() &   \
            ::wxvault::service::LogMessage(lvl, __FILE__, __LINE__).stream()
#define WXV_LOG_DEBUG WXV_LOG_AT(::wxvault::service::LogLevel::kDebug)
#define WXV_LOG_INFO WXV_LOG_AT(::wxvault::service::LogLevel::kInfo)
#define WXV_LOG_WARNING WXV_LOG_AT(::wxvault::service::LogLevel::kWarning)
#define WXV_LOG_ERROR WXV_LOG_AT(::wxvault::service::LogLevel::kError)
// WXV_LOG(INFO) << ...; levels: DEBUG, INFO, WARNING, ERROR.
#define WXV_LOG(level) WXV_LOG_##level

#endif  // WXVAULT_SERVICE_LOG_H_
