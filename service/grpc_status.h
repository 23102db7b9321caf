// grpc_status: the one place where an absl::Status becomes what a gRPC
// client sees (DESIGN §3, §8).
//
// For every error:
//   * the status code is kept, except that reasons which must not reach a
//     client as they are get the code of their wire reason (an
//     ACCESS_TOKEN_INVALID that survived the service's refresh-and-retry
//     becomes UNAVAILABLE);
//   * trailing metadata `wxvault-reason` is always sent: the attached reason
//     (service/error_reason.h) mapped onto a value name of the proto enum
//     wxvault.v1.ErrorReason (without its ERROR_REASON_ prefix), or, when no
//     reason is attached, one derived from the status code;
//   * `wechat-errcode` when WeChat answered with an error, and
//     `retry-after-ms` when the error carries a retry-after hint.
// The status message is passed through: producers guarantee that messages
// never contain secrets (codes, tokens, app secrets, key material).
//
// Thread safety: all functions are pure, except FinishWithStatus's use of
// the context, which follows gRPC's rules (call before Finish, from any one
// thread at a time).
#ifndef WXVAULT_SERVICE_GRPC_STATUS_H_
#define WXVAULT_SERVICE_GRPC_STATUS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace wxvault::service {

inline constexpr char kReasonMetadataKey[] = "wxvault-reason";
inline constexpr char kWeChatErrcodeMetadataKey[] = "wechat-errcode";
inline constexpr char kRetryAfterMetadataKey[] = "retry-after-ms";

// The gRPC form of one status: code, message and trailing metadata.
struct WireStatus {
  grpc::Status status;
  std::vector<std::pair<std::string, std::string>> trailers;
};

// The wxvault-reason sent for `status` (non-OK): always a value name of
// wxvault.v1.ErrorReason without the prefix.
std::string WireReason(const absl::Status& status);

// True if `reason` names a value of wxvault.v1.ErrorReason (other than
// UNSPECIFIED), e.g. "CODE_EXPIRED".
bool IsWireReason(absl::string_view reason);

// The complete wire form of `status`. OK maps to OK with no trailers.
WireStatus ToWireStatus(const absl::Status& status);

// Adds ToWireStatus(status)'s trailers to `context` and returns its status,
// ready for reactor->Finish().
grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_GRPC_STATUS_H_
