#include "service/grpc_status.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "wxvault/v1/types.pb.h"

namespace wxvault::service {
namespace {

constexpr absl::string_view kEnumPrefix = "ERROR_REASON_";

// Reasons produced inside the server that are not ErrorReason names, with
// the wire reason and status code a client gets instead.
struct ReasonRewrite {
  absl::string_view internal;
  absl::string_view wire;
  absl::StatusCode code;
};
constexpr ReasonRewrite kRewrites[] = {
    // Unknown errcode or odd HTTP status from WeChat: retryable trouble.
    {reason::kUpstreamError, reason::kUpstreamUnavailable, absl::StatusCode::kUnavailable},
    // WeChat refused the API for this app or user (48001/50002).
    {reason::kUnauthorizedApi, "UPSTREAM_DENIED", absl::StatusCode::kPermissionDenied},
    // 41001..41009: wxvault sent WeChat a bad request, i.e. a bug.
    {reason::kUpstreamBadRequest, "INTERNAL", absl::StatusCode::kInternal},
    // 40001/40014/42001 still failing after the service's refresh and retry.
    {reason::kAccessTokenInvalid, reason::kUpstreamUnavailable, absl::StatusCode::kUnavailable},
};

// The reason a status without one gets, from its code.
absl::string_view ReasonForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return reason::kInvalidArgument;
    case absl::StatusCode::kNotFound:
      return reason::kTokenNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return reason::kUpstreamUnavailable;
    case absl::StatusCode::kResourceExhausted:
      return reason::kUpstreamRateLimited;
    case absl::StatusCode::kDataLoss:
      return "RECORD_UNREADABLE";
    case absl::StatusCode::kOutOfRange:
      return "SEQUENCE_OUT_OF_RANGE";
    case absl::StatusCode::kUnauthenticated:
      return "ADMIN_CREDENTIAL_MISSING";
    case absl::StatusCode::kPermissionDenied:
      return "UPSTREAM_DENIED";
    case absl::StatusCode::kAborted:
      return "OPERATION_IN_PROGRESS";
    case absl::StatusCode::kFailedPrecondition:
    default:
      return "INTERNAL";
  }
}

const ReasonRewrite* FindRewrite(absl::string_view internal) {
  for (const ReasonRewrite& rewrite : kRewrites) {
    if (rewrite.internal == internal) return &rewrite;
  }
  return nullptr;
}

}  // namespace

bool IsWireReason(absl::string_view reason) {
  if (reason.empty() || reason == "UNSPECIFIED") return false;
  return wxvault::v1::ErrorReason_descriptor()->FindValueByName(absl::StrCat(kEnumPrefix, reason)) != nullptr;
}

std::string WireReason(const absl::Status& status) {
  const std::string attached = ReasonOf(status);
  if (const ReasonRewrite* rewrite = FindRewrite(attached)) return std::string(rewrite->wire);
  if (IsWireReason(attached)) return attached;
  // No reason, or one this table does not know: derive it from the code.
  return std::string(ReasonForCode(status.code()));
}

WireStatus ToWireStatus(const absl::Status& status) {
  WireStatus wire;
  if (status.ok()) return wire;
  absl::StatusCode code = status.code();
  if (const ReasonRewrite* rewrite = FindRewrite(ReasonOf(status))) code = rewrite->code;
  wire.status = grpc::Status(static_cast<grpc::StatusCode>(code), std::string(status.message()));
  wire.trailers.emplace_back(kReasonMetadataKey, WireReason(status));
  if (absl::optional<int> errcode = WeChatErrcodeOf(status)) {
    wire.trailers.emplace_back(kWeChatErrcodeMetadataKey, absl::StrCat(*errcode));
  }
  if (absl::optional<absl::Duration> retry_after = RetryAfterOf(status)) {
    wire.trailers.emplace_back(kRetryAfterMetadataKey, absl::StrCat(absl::ToInt64Milliseconds(*retry_after)));
  }
  return wire;
}

grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context) {
  WireStatus wire = ToWireStatus(status);
  for (const auto& [key, value] : wire.trailers) context->AddTrailingMetadata(key, value);
  return wire.status;
}

}  // namespace wxvault::service
