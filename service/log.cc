#include "service/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace wxvault::service {
namespace {

absl::Mutex sink_mu(absl::kConstInit);
LogSink* sink ABSL_GUARDED_BY(sink_mu) = nullptr;
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 'D';
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
  }
  return '?';
}

absl::string_view Basename(const char* file) {
  absl::string_view path(file);
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

LogSink* SetLogSink(LogSink* new_sink) {
  absl::MutexLock lock(&sink_mu);
  LogSink* old = sink;
  sink = new_sink;
  return old;
}

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool ShouldLog(LogLevel level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

std::string RedactUrl(absl::string_view url) {
  size_t end = url.find_first_of("?#");
  absl::string_view kept = url.substr(0, end);
  // Drop "user:password@" from the authority, if any.
  size_t scheme = kept.find("://");
  size_t authority_start = scheme == absl::string_view::npos ? 0 : scheme + 3;
  size_t path_start = kept.find('/', authority_start);
  absl::string_view authority = kept.substr(
      authority_start, path_start == absl::string_view::npos
                           ? absl::string_view::npos
                           : path_start - authority_start);
  size_t at = authority.rfind('@');
  if (at == absl::string_view::npos) return std::string(kept);
  return absl::StrCat(kept.substr(0, authority_start),
                      authority.substr(at + 1),
                      path_start == absl::string_view::npos
                          ? absl::string_view()
                          : kept.substr(path_start));
}

std::string SanitizeForLog(absl::string_view text, size_t max_len) {
  std::string out;
  absl::string_view cut = text.substr(0, max_len);
  out.reserve(cut.size() + 3);
  for (char c : cut) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (text.size() > max_len) out.append("...");
  return out;
}

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level) {
  stream_ << LevelLetter(level)
          << absl::FormatTime("%Y%m%d %H:%M:%E6S", absl::Now(),
                              absl::UTCTimeZone())
          << ' ' << Basename(file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  std::string line = stream_.str();
  std::string escaped;
  escaped.reserve(line.size());
  for (char c : line) {
    if (c == '\n') {
      escaped.append("\\n");
    } else if (c == '\r') {
      escaped.append("\\r");
    } else {
      escaped.push_back(c);
    }
  }
  absl::MutexLock lock(&sink_mu);
  if (sink != nullptr) {
    sink->Write(level_, escaped);
    return;
  }
  escaped.push_back('\n');
  std::fwrite(escaped.data(), 1, escaped.size(), stderr);
}

}  // namespace wxvault::service
