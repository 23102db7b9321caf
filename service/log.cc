#include "service/log.h"

#include <atomic>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "service/json.h"

namespace wxvault::service {
namespace {

absl::Mutex sink_mu(absl::kConstInit);
LogSink* sink ABSL_GUARDED_BY(sink_mu) = nullptr;
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
thread_local const ScopedLogFields* current_scope = nullptr;

// The std::ostream slot that points a LogMessage's stream at its message.
int MessageSlot() {
  static const int slot = std::ios_base::xalloc();
  return slot;
}

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

bool IsReservedKey(absl::string_view key) {
  return key == "time" || key == "level" || key == "msg" || key == "caller";
}

// Appends ,"key":value unless `key` was written already.
class FieldWriter {
 public:
  explicit FieldWriter(std::string* out) : out_(out) {}
  void Add(absl::string_view key, absl::string_view json_value) {
    for (absl::string_view seen : seen_) {
      if (seen == key) return;
    }
    seen_.push_back(key);
    out_->push_back(',');
    AppendJsonString(key, out_);
    out_->push_back(':');
    out_->append(json_value.data(), json_value.size());
  }
  void AddString(absl::string_view key, absl::string_view value) {
    std::string json;
    AppendJsonString(value, &json);
    Add(key, json);
  }

 private:
  std::string* const out_;
  std::vector<absl::string_view> seen_;
};

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

absl::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LogLevelName(level)) return level;
  }
  return absl::nullopt;
}

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

LogField::LogField(absl::string_view key, absl::string_view value) : key_(key) {
  AppendJsonString(value, &json_value_);
}

LogField::LogField(absl::string_view key, bool value) : key_(key), json_value_(value ? "true" : "false") {}

LogField::LogField(absl::string_view key, double value) : key_(key) {
  if (std::isfinite(value)) {
    json_value_ = absl::StrCat(value);
  } else {
    AppendJsonString(absl::StrCat(value), &json_value_);
  }
}

std::ostream& operator<<(std::ostream& os, const LogField& field) {
  if (void* message = os.pword(MessageSlot()); message != nullptr) {
    static_cast<LogMessage*>(message)->AddField(field);
    return os;
  }
  return os << field.key() << '=' << field.json_value();
}

ScopedLogFields::ScopedLogFields(const std::vector<LogField>* fields) : fields_(fields), outer_(current_scope) {
  current_scope = this;
}

ScopedLogFields::~ScopedLogFields() { current_scope = outer_; }

std::string FormatLogRecord(const LogRecord& record) {
  std::string out = absl::StrCat("{\"time\":\"",
                                 absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", record.time, absl::UTCTimeZone()),
                                 "\",\"level\":\"", LogLevelName(record.level), "\",\"msg\":");
  AppendJsonString(record.message, &out);
  FieldWriter writer(&out);
  const absl::string_view base = Basename(record.file);
  const LogField* component = nullptr;
  if (record.fields != nullptr) {
    for (const LogField& field : *record.fields) {
      if (field.key() == "component") component = &field;
    }
  }
  if (component != nullptr) {
    writer.Add("component", component->json_value());
  } else {
    writer.AddString("component", base.substr(0, base.find('.')));
  }
  writer.AddString("caller", absl::StrCat(base, ":", record.line));
  for (const ScopedLogFields* scope = record.scope; scope != nullptr; scope = scope->outer()) {
    for (const LogField& field : scope->fields()) {
      if (!IsReservedKey(field.key())) writer.Add(field.key(), field.json_value());
    }
  }
  if (record.fields != nullptr) {
    for (const LogField& field : *record.fields) {
      if (!IsReservedKey(field.key())) writer.Add(field.key(), field.json_value());
    }
  }
  out.push_back('}');
  return out;
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level), file_(file), line_(line) {
  stream_.pword(MessageSlot()) = this;
}

LogMessage::~LogMessage() {
  LogRecord record;
  record.time = absl::Now();
  record.level = level_;
  record.file = file_;
  record.line = line_;
  const std::string message = stream_.str();
  record.message = message;
  record.fields = &fields_;
  record.scope = current_scope;
  std::string line = FormatLogRecord(record);
  absl::MutexLock lock(&sink_mu);
  if (sink != nullptr) {
    sink->Write(level_, line);
    return;
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace wxvault::service
