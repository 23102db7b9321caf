// Log: one-line, leveled log records for every wxvault component.
//
// Records go to stderr by default, one line each:
//   I20250615 08:53:20.123456 wechat_client.cc:123] message
// Newlines inside a message are escaped so a record is always one line.
//
// Usage:
//   WXV_LOG(INFO) << "refresher started, " << n << " tokens due";
//   WXV_LOG(WARNING) << "GET " << RedactUrl(url) << " failed";
//
// Secrets: never stream a token, code or app secret. URLs to WeChat carry
// secrets in their query strings: log them only through RedactUrl().
//
// Thread safety: every function here is safe to call concurrently. A sink
// installed with SetLogSink() receives Write() calls from any thread.
#ifndef WXVAULT_SERVICE_LOG_H_
#define WXVAULT_SERVICE_LOG_H_

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace wxvault::service {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Where finished log lines go. Implementations must be thread-safe.
class LogSink {
 public:
  virtual ~LogSink() = default;
  // `line` is one complete record without the trailing newline.
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

// One record; flushed to the sink when destroyed. Use WXV_LOG instead.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
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
