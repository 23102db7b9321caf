// TokenVaultService: the gRPC face of wxvault.v1.TokenVault (DESIGN §3).
//
// A thin adapter: each unary RPC parses its request, runs the matching
// TokenService call on the WorkerPool (never on a gRPC callback thread) with
// the call's deadline (capped at 15 s), converts the result to the response
// message (service/proto_convert.h) and finishes through RpcCall::Finish,
// which counts it in the RPC metrics and adds the `x-request-id`,
// `wxvault-reason` / `wechat-errcode` trailers. Input validation
// (lengths, charsets, app resolution) happens in TokenService; requests that
// are not valid protobuf answer INVALID_ARGUMENT (service/unary_call.h).
// WatchEvents streams the event log (service/watch_events.h).
//
// Errors per RPC: those listed in proto/wxvault/v1/token_vault.proto, plus
// RESOURCE_EXHAUSTED / SERVER_BUSY when the worker queue is full and
// UNAVAILABLE / STORAGE_UNAVAILABLE while shutting down.
//
// Thread safety: gRPC calls the handlers concurrently; the service holds no
// mutable state. Dependencies are not owned and must outlive the server.
#ifndef WXVAULT_SERVICE_TOKEN_VAULT_SERVICE_H_
#define WXVAULT_SERVICE_TOKEN_VAULT_SERVICE_H_

#include "service/app_registry.h"
#include "service/event_notifier.h"
#include "service/token_service.h"
#include "service/unary_call.h"
#include "service/worker_pool.h"
#include "vault/clock.h"
#include "vault/token_store.h"
#include "wxvault/v1/token_vault.grpc.pb.h"

namespace wxvault::service {

using TokenVaultRawService = wxvault::v1::TokenVault::WithRawCallbackMethod_Exchange<
    wxvault::v1::TokenVault::WithRawCallbackMethod_Refresh<
        wxvault::v1::TokenVault::WithRawCallbackMethod_GetUserInfo<
            wxvault::v1::TokenVault::WithRawCallbackMethod_GetAccessToken<
                wxvault::v1::TokenVault::WithRawCallbackMethod_Revoke<
                    wxvault::v1::TokenVault::WithRawCallbackMethod_WatchEvents<wxvault::v1::TokenVault::Service>>>>>>;

class TokenVaultService final : public TokenVaultRawService {
 public:
  struct Deps {
    TokenService* tokens = nullptr;
    vault::TokenStore* store = nullptr;
    const AppRegistry* apps = nullptr;
    EventNotifier* notifier = nullptr;
    WorkerPool* pool = nullptr;
    Clock* clock = nullptr;
    RpcMetrics* metrics = nullptr;  // may be null
  };
  explicit TokenVaultService(const Deps& deps) : deps_(deps), env_{deps.pool, deps.clock, deps.metrics} {}

  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Refresh(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetUserInfo(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetAccessToken(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Revoke(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* request) override;

 private:
  const Deps deps_;
  const UnaryEnv env_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_TOKEN_VAULT_SERVICE_H_
