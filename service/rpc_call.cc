#include "service/rpc_call.h"

#include <cstdint>
#include <optional>

#include "absl/base/call_once.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/grpc_status.h"
#include "service/server_metrics.h"

namespace wxvault::service {
namespace {

constexpr size_t kMaxRequestIdLength = 64;

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// Codes that point at a bug or broken storage rather than at the caller.
bool IsServerFault(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal || code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDataLoss;
}

}  // namespace

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (!IsRequestIdChar(c)) return false;
  }
  return true;
}

std::string NewRequestId() {
  thread_local absl::BitGen gen;
  const uint64_t high = absl::Uniform<uint64_t>(gen);
  const uint64_t low = absl::Uniform<uint64_t>(gen);
  return absl::StrCat(absl::Hex(high, absl::kZeroPad16), absl::Hex(low, absl::kZeroPad16));
}

RpcCall::RpcCall(grpc::ServerContextBase* ctx, absl::string_view method, RpcMetrics* metrics, bool unary)
    : ctx_(ctx), method_(method), metrics_(metrics), unary_(unary), started_(absl::Now()) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find(kRequestIdMetadataKey);
  if (it != metadata.end() && IsValidRequestId(absl::string_view(it->second.data(), it->second.size()))) {
    request_id_.assign(it->second.data(), it->second.size());
    client_sent_id_ = true;
  } else {
    request_id_ = NewRequestId();
  }
}

const std::vector<LogField>* RpcCall::log_fields() {
  absl::call_once(log_fields_once_, [this] {
    log_fields_ = {LogField("request_id", request_id_), LogField("method", method_), LogField("peer", ctx_->peer())};
  });
  return &log_fields_;
}

grpc::Status RpcCall::Finish(const absl::Status& status, const CallObserver& observer) {
  const LogLevel level = IsServerFault(status.code()) ? LogLevel::kWarning : LogLevel::kDebug;
  // A generated id is returned whenever a log line may carry it; a call
  // answered from memory with success logs nothing (unless at debug), so
  // its generated id would lead nowhere and costs ~2 us of gRPC trailer
  // handling on the hottest path (BENCHMARKS.md). A client's id is always
  // echoed.
  const bool id_leads_nowhere =
      answered_from_memory_ && !client_sent_id_ && status.ok() && !observer && !ShouldLog(LogLevel::kDebug);
  if (!id_leads_nowhere) ctx_->AddTrailingMetadata(kRequestIdMetadataKey, request_id_);
  // The fields are formatted only for a call that logs (an audit observer
  // or this level): the fast paths never pay for them.
  std::optional<ScopedLogFields> scope;
  if (observer || ShouldLog(level)) scope.emplace(log_fields());
  if (observer) observer(status);
  const absl::Duration elapsed = absl::Now() - started_;
  if (metrics_ != nullptr) {
    metrics_->Record(method_, status.code(), unary_ ? absl::optional<absl::Duration>(elapsed) : absl::nullopt);
  }
  if (ShouldLog(level)) {
    LogMessage message(level, __FILE__, __LINE__);
    message.stream() << LogField("code", absl::StatusCodeToString(status.code()))
                     << LogField("duration_ms", absl::ToDoubleMilliseconds(elapsed));
    if (!status.ok()) message.stream() << LogField("reason", WireReason(status));
    // Status messages never hold secrets (grpc_status.h); quote them for faults.
    if (IsServerFault(status.code())) message.stream() << LogField("error", status.message());
    message.stream() << (status.ok() ? "rpc finished" : "rpc failed");
  }
  return ToGrpcStatus(status, ctx_);
}

}  // namespace wxvault::service
