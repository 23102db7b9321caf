// VaultAdminService: the gRPC face of wxvault.v1.VaultAdmin (DESIGN §3).
//
// Every call is first authorized by AdminAuthorizer (on the callback thread:
// it only reads metadata), then runs on the WorkerPool:
//   ListTokens      TokenStore::ListTokens, metadata only (paged; filters)
//   GetToken        the record (any state) with its admin-only bookkeeping
//   GetVaultStatus  counters the store maintains (never a scan), keyring,
//                   schedule backlog, upstream pauses, event log range
//   RewrapAll, CreateBackup, Compact   VaultMaintenance
// One audit log line per call (JSON, level info, "audit": true): who (the
// gRPC peer, and the kind of credential presented: bearer / none / other),
// what (the full method), the result (status code and reason), plus the
// call's request_id. No secrets are logged or returned.
//
// Errors: those of proto/wxvault/v1/vault_admin.proto; the admin ones
// (UNAUTHENTICATED / ADMIN_CREDENTIAL_MISSING, PERMISSION_DENIED /
// ADMIN_CREDENTIAL_INVALID or ADMIN_DISABLED) come first.
//
// Thread safety: handlers run concurrently; the service's state is immutable
// after construction. Dependencies are not owned and must outlive the server.
#ifndef WXVAULT_SERVICE_VAULT_ADMIN_SERVICE_H_
#define WXVAULT_SERVICE_VAULT_ADMIN_SERVICE_H_

#include <string>

#include "absl/time/time.h"
#include "service/admin_auth.h"
#include "service/app_registry.h"
#include "service/rate_limiter.h"
#include "service/refresher.h"
#include "service/unary_call.h"
#include "service/vault_maintenance.h"
#include "service/worker_pool.h"
#include "vault/sealer.h"
#include "vault/token_store.h"
#include "wxvault/v1/vault_admin.grpc.pb.h"

namespace wxvault::service {

using VaultAdminRawService = wxvault::v1::VaultAdmin::WithRawCallbackMethod_ListTokens<
    wxvault::v1::VaultAdmin::WithRawCallbackMethod_GetToken<
        wxvault::v1::VaultAdmin::WithRawCallbackMethod_GetVaultStatus<
            wxvault::v1::VaultAdmin::WithRawCallbackMethod_RewrapAll<
                wxvault::v1::VaultAdmin::WithRawCallbackMethod_CreateBackup<
                    wxvault::v1::VaultAdmin::WithRawCallbackMethod_Compact<wxvault::v1::VaultAdmin::Service>>>>>>;

class VaultAdminService final : public VaultAdminRawService {
 public:
  struct Deps {
    vault::TokenStore* store = nullptr;
    const vault::Sealer* sealer = nullptr;
    const AppRegistry* apps = nullptr;
    RateLimiter* limiter = nullptr;
    VaultMaintenance* maintenance = nullptr;
    const AdminAuthorizer* auth = nullptr;
    WorkerPool* pool = nullptr;
    Clock* clock = nullptr;
    std::string data_dir;  // absolute
    bool demo = false;
    absl::Time started_at;
    // The background refresher, for its in-flight count; may be null.
    const Refresher* refresher = nullptr;
    RpcMetrics* metrics = nullptr;  // may be null
  };
  explicit VaultAdminService(Deps deps) : deps_(std::move(deps)) {}

  grpc::ServerUnaryReactor* ListTokens(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetToken(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetVaultStatus(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RewrapAll(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

 private:
  // Authorizes, audits and serves one admin call.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Serve(absl::string_view method, grpc::CallbackServerContext* ctx,
                                  const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                  UnaryWork<Request, Response> work);

  absl::Status DoListTokens(const wxvault::v1::ListTokensRequest& request,
                            wxvault::v1::ListTokensResponse* response);
  absl::Status DoGetToken(const wxvault::v1::GetTokenRequest& request, wxvault::v1::GetTokenResponse* response);
  absl::Status DoGetVaultStatus(wxvault::v1::GetVaultStatusResponse* response);

  const Deps deps_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_VAULT_ADMIN_SERVICE_H_
