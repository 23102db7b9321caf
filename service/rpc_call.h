// RpcCall: what wxvaultd keeps for every RPC it serves, from arrival to the
// final status: the request id, the log fields, the start time and the
// metrics hook.
//
// Request ids: a client may send metadata `x-request-id`; it is used when it
// is 1..64 characters of [A-Za-z0-9._-], otherwise (or when absent) the
// server makes one (32 lowercase hex digits). The id goes into every log line
// written while the call is served (log_fields(): request_id, method, peer;
// install them with ScopedLogFields on the thread doing the work) and back in
// the trailing metadata `x-request-id`: always when the client sent it, and
// for a generated one on every call except a success answered from memory
// (MarkAnsweredFromMemory) below --log_level=debug, which logs nothing the
// id could find.
//
// Finish() is the single exit: it runs the call's observer (audit lines),
// records wxvault_rpc_total / wxvault_rpc_duration_seconds, writes a debug
// log line (a warning for INTERNAL, UNKNOWN and DATA_LOSS), and returns the
// gRPC status with its trailers (ToGrpcStatus).
//
// Thread safety: construct on the gRPC callback thread that received the
// call; afterwards the object is read-only except for Finish, which must be
// called once, before the reactor's Finish, from any one thread.
#ifndef WXVAULT_SERVICE_RPC_CALL_H_
#define WXVAULT_SERVICE_RPC_CALL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "service/log.h"

namespace wxvault::service {

class RpcMetrics;  // service/server_metrics.h

inline constexpr char kRequestIdMetadataKey[] = "x-request-id";

// True if `id` is 1..64 characters of [A-Za-z0-9._-].
bool IsValidRequestId(absl::string_view id);
// A fresh id: 32 lowercase hex digits (128 random bits).
std::string NewRequestId();

// Called with the final status of a call just before it is finished (for
// audit logs). May be empty.
using CallObserver = std::function<void(const absl::Status&)>;

class RpcCall {
 public:
  // `method`: "/pkg.Service/Method" (a literal or otherwise long-lived).
  // `metrics` may be null. `unary`: whether the latency histogram applies.
  RpcCall(grpc::ServerContextBase* ctx, absl::string_view method, RpcMetrics* metrics, bool unary = true);
  RpcCall(const RpcCall&) = delete;
  RpcCall& operator=(const RpcCall&) = delete;

  const std::string& request_id() const { return request_id_; }
  absl::string_view method() const { return method_; }
  // request_id, method and peer, for ScopedLogFields. Built once, on first
  // use (most calls never log). Thread-safe.
  const std::vector<LogField>* log_fields();

  // The call is being answered on the callback thread from memory, with no
  // I/O and nothing logged (see the file comment on request ids).
  void MarkAnsweredFromMemory() { answered_from_memory_ = true; }

  // See the file comment. `observer` may be empty. Adds the x-request-id
  // trailer to the context (see above).
  grpc::Status Finish(const absl::Status& status, const CallObserver& observer = nullptr);

 private:
  grpc::ServerContextBase* const ctx_;
  const absl::string_view method_;
  RpcMetrics* const metrics_;
  const bool unary_;
  const absl::Time started_;
  std::string request_id_;
  bool client_sent_id_ = false;
  bool answered_from_memory_ = false;
  absl::once_flag log_fields_once_;
  std::vector<LogField> log_fields_;  // set once by log_fields()
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_RPC_CALL_H_
