#include "service/unary_call.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "service/error_reason.h"

namespace wxvault::service {

absl::Time CallDeadline(const grpc::ServerContextBase& ctx, const Clock& clock, absl::Duration cap) {
  const std::chrono::system_clock::time_point grpc_deadline = ctx.deadline();
  const std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  absl::Duration left = cap;
  if (grpc_deadline <= now) {
    left = absl::ZeroDuration();
  } else if (grpc_deadline - now < absl::ToChronoNanoseconds(cap)) {
    left = absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(grpc_deadline - now));
  }
  return clock.Now() + left;
}

absl::Status ParseRawRequest(const grpc::ByteBuffer* raw, google::protobuf::Message* message) {
  bool parsed = false;
  grpc::Slice single;
  if (raw == nullptr) {
    // Nothing to parse: answered as malformed below.
  } else if (raw->TrySingleSlice(&single).ok()) {
    // The usual case for small requests: parse in place, no buffer copy.
    parsed = message->ParseFromArray(single.begin(), static_cast<int>(single.size()));
  } else {
    grpc::ByteBuffer copy = *raw;  // the reader consumes its buffer
    grpc::ProtoBufferReader reader(&copy);
    parsed = message->ParseFromZeroCopyStream(&reader);
  }
  if (!parsed) {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("request is not a valid ", message->GetTypeName(),
                                  " (malformed protobuf, or invalid UTF-8 in a string field)"),
                     "INVALID_ARGUMENT");
  }
  return absl::OkStatus();
}

absl::Status SerializeRawResponse(const google::protobuf::Message& message, grpc::ByteBuffer* raw) {
  bool own_buffer = false;
  grpc::Status status = grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(
      message, raw, &own_buffer);
  if (!status.ok()) {
    return MakeError(absl::StatusCode::kInternal, absl::StrCat("cannot serialize ", message.GetTypeName()),
                     "INTERNAL");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* ctx, const UnaryEnv& env,
                                      absl::string_view method, const absl::Status& status,
                                      const CallObserver& observer) {
  RpcCall call(ctx, method, env.metrics);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(call.Finish(status, observer));
  return reactor;
}

}  // namespace wxvault::service
