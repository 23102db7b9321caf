// unary_call: the one way wxvaultd serves a unary RPC with gRPC's callback
// API.
//
//   grpc::ServerUnaryReactor* Foo(grpc::CallbackServerContext* ctx,
//                                 const grpc::ByteBuffer* request,
//                                 grpc::ByteBuffer* response) override {
//     return ServeUnary<FooRequest, FooResponse>(ctx, request, response, env_,
//         "/pkg.Service/Foo",
//         [this](const FooRequest& req, FooResponse* resp, absl::Time deadline) {
//           return ...;  // absl::Status; runs on a worker thread
//         });
//   }
//
// A method with a cheap, non-blocking answer for some requests (a warm
// GetAccessToken) also passes an InlineAnswer, tried first on the callback
// thread; only when it declines does the call hop to the pool.
//
// Handlers are registered raw (ByteBuffer in and out) so that a request that
// is not valid protobuf for its type, such as invalid UTF-8 in a string field,
// is answered INVALID_ARGUMENT with a wxvault-reason instead of the runtime's
// bare UNIMPLEMENTED (DESIGN §6a). The request is parsed on the callback
// thread (it is at most the server's 64 KiB message limit); the work runs on
// the WorkerPool; the reply, errors included, goes through RpcCall::Finish
// (request id trailer, per-RPC metrics, audit observer, ToGrpcStatus). The
// work runs with the call's log fields (request_id, method, peer) installed,
// so every line it logs names the request.
//
// Deadlines: `deadline` is on `clock`'s time line: clock->Now() + the time
// left on the gRPC deadline, capped at 15 s (CallDeadline).
//
// Thread safety: ServeUnary is called on gRPC callback threads; `work` runs on
// a worker thread and must be thread-safe.
#ifndef WXVAULT_SERVICE_UNARY_CALL_H_
#define WXVAULT_SERVICE_UNARY_CALL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "google/protobuf/message.h"
#include "service/log.h"
#include "service/rpc_call.h"
#include "service/worker_pool.h"
#include "vault/clock.h"

namespace wxvault::service {

// Ceiling on the time any RPC waits for WeChat (DESIGN §6a).
inline constexpr absl::Duration kMaxCallWait = absl::Seconds(15);

// clock.Now() + min(time left on ctx's deadline, cap). An expired deadline
// gives clock.Now().
absl::Time CallDeadline(const grpc::ServerContextBase& ctx, const Clock& clock, absl::Duration cap = kMaxCallWait);

// Parses `raw` as `message`. Errors: INVALID_ARGUMENT / INVALID_ARGUMENT
// naming the message type (the content is never echoed).
absl::Status ParseRawRequest(const grpc::ByteBuffer* raw, google::protobuf::Message* message);

// Serializes `message` into `raw`. Errors: INTERNAL.
absl::Status SerializeRawResponse(const google::protobuf::Message& message, grpc::ByteBuffer* raw);

// What ServeUnary needs from the service that serves the call.
struct UnaryEnv {
  WorkerPool* pool = nullptr;
  const Clock* clock = nullptr;
  RpcMetrics* metrics = nullptr;  // may be null
};

template <typename Request, typename Response>
using UnaryWork = std::function<absl::Status(const Request&, Response*, absl::Time deadline)>;

// Finishes the call of `method` at once with `status` (e.g. a refused
// credential), through RpcCall::Finish; returns the reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* ctx, const UnaryEnv& env,
                                      absl::string_view method, const absl::Status& status,
                                      const CallObserver& observer = nullptr);

// Answers a call on the gRPC callback thread itself: writes the serialized
// response and returns true, or returns false to hand the call to the worker
// pool. Must never block (no RocksDB write, no upstream call).
template <typename Request>
using InlineAnswer = std::function<bool(const Request&, grpc::ByteBuffer* raw_response)>;

// Parses the request; then, when `answer_inline` is set and answers, sends
// that at once; otherwise runs `work` on env.pool. Serializes and finishes.
// `method`: "/pkg.Service/Method", a string literal.
template <typename Request, typename Response>
grpc::ServerUnaryReactor* ServeUnary(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw_request,
                                     grpc::ByteBuffer* raw_response, const UnaryEnv& env, absl::string_view method,
                                     UnaryWork<Request, Response> work, CallObserver observer = nullptr,
                                     InlineAnswer<Request> answer_inline = nullptr) {
  auto call = std::make_shared<RpcCall>(ctx, method, env.metrics);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Request parsed_request;
  if (absl::Status parsed = ParseRawRequest(raw_request, &parsed_request); !parsed.ok()) {
    reactor->Finish(call->Finish(parsed, observer));
    return reactor;
  }
  if (answer_inline && answer_inline(parsed_request, raw_response)) {
    call->MarkAnsweredFromMemory();
    reactor->Finish(call->Finish(absl::OkStatus(), observer));
    return reactor;
  }
  auto request = std::make_shared<Request>(std::move(parsed_request));
  const absl::Time deadline = CallDeadline(*ctx, *env.clock);
  absl::Status queued = env.pool->Submit([call, reactor, raw_response, request, deadline, work = std::move(work),
                                          observer]() {
    ScopedLogFields scope(call->log_fields());
    Response response;
    absl::Status status = work(*request, &response, deadline);
    if (status.ok()) status = SerializeRawResponse(response, raw_response);
    reactor->Finish(call->Finish(status, observer));
  });
  if (!queued.ok()) reactor->Finish(call->Finish(queued, observer));
  return reactor;
}

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_UNARY_CALL_H_
