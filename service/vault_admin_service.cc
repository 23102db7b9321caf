#include "service/vault_admin_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/grpc_status.h"
#include "service/log.h"
#include "service/proto_convert.h"
#include "service/token_validation.h"
#include "service/wechat_response.h"

namespace wxvault::service {

namespace v1 = wxvault::v1;

namespace {

constexpr int32_t kDefaultPageSize = 100;
constexpr int32_t kMaxPageSize = 1000;
// Overdue schedule entries counted by GetVaultStatus, at most (ReadDue is
// O(due); this bounds it).
constexpr size_t kMaxBacklogCounted = 10'000;

void AddCount(vault::RecordState state, uint64_t count, v1::TokenCounts* counts) {
  switch (state) {
    case vault::RECORD_STATE_ACTIVE:
      counts->set_active(counts->active() + count);
      break;
    case vault::RECORD_STATE_REAUTH_REQUIRED:
      counts->set_reauth_required(counts->reauth_required() + count);
      break;
    case vault::RECORD_STATE_REVOKED:
      counts->set_revoked(counts->revoked() + count);
      break;
    default:
      break;
  }
}

// The kind of credential a call presented (never the credential itself).
absl::string_view CredentialKind(const grpc::ServerContextBase& ctx) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "none";
  const absl::string_view value(it->second.data(), it->second.size());
  return absl::StartsWithIgnoreCase(value, "bearer ") ? "bearer" : "other";
}

}  // namespace

template <typename Request, typename Response>
grpc::ServerUnaryReactor* VaultAdminService::Serve(absl::string_view method, grpc::CallbackServerContext* ctx,
                                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                                   UnaryWork<Request, Response> work) {
  // The audit line: who, what, result. Never secrets (requests hold none;
  // the credential is named by kind only). It runs inside the call's log
  // scope, so it also carries request_id, method and peer. Written whatever
  // --log_level says.
  auto audit = [method, peer = ctx->peer(), credential = CredentialKind(*ctx)](const absl::Status& status) {
    const std::string result(absl::StatusCodeToString(status.code()));
    LogMessage line(LogLevel::kInfo, __FILE__, __LINE__);
    line.stream() << LogField("audit", true) << LogField("who", peer) << LogField("credential", credential)
                  << LogField("what", method) << LogField("result", result);
    if (!status.ok()) line.stream() << LogField("reason", WireReason(status));
    line.stream() << "audit: admin " << method.substr(method.rfind('/') + 1) << " " << result;
  };
  const UnaryEnv env{deps_.pool, deps_.clock, deps_.metrics};
  if (absl::Status allowed = deps_.auth->Check(*ctx); !allowed.ok()) {
    return FinishUnary(ctx, env, method, allowed, audit);
  }
  return ServeUnary<Request, Response>(ctx, request, response, env, method, std::move(work), std::move(audit));
}

grpc::ServerUnaryReactor* VaultAdminService::ListTokens(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return Serve<v1::ListTokensRequest, v1::ListTokensResponse>(
      "/wxvault.v1.VaultAdmin/ListTokens", ctx, request, response,
      [this](const v1::ListTokensRequest& req, v1::ListTokensResponse* resp, absl::Time) {
        return DoListTokens(req, resp);
      });
}

grpc::ServerUnaryReactor* VaultAdminService::GetToken(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return Serve<v1::GetTokenRequest, v1::GetTokenResponse>(
      "/wxvault.v1.VaultAdmin/GetToken", ctx, request, response,
      [this](const v1::GetTokenRequest& req, v1::GetTokenResponse* resp, absl::Time) { return DoGetToken(req, resp); });
}

grpc::ServerUnaryReactor* VaultAdminService::GetVaultStatus(grpc::CallbackServerContext* ctx,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Serve<v1::GetVaultStatusRequest, v1::GetVaultStatusResponse>(
      "/wxvault.v1.VaultAdmin/GetVaultStatus", ctx, request, response,
      [this](const v1::GetVaultStatusRequest&, v1::GetVaultStatusResponse* resp, absl::Time) {
        return DoGetVaultStatus(resp);
      });
}

grpc::ServerUnaryReactor* VaultAdminService::RewrapAll(grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return Serve<v1::RewrapAllRequest, v1::RewrapAllResponse>(
      "/wxvault.v1.VaultAdmin/RewrapAll", ctx, request, response,
      [this](const v1::RewrapAllRequest& req, v1::RewrapAllResponse* resp, absl::Time deadline) {
        return deps_.maintenance->RewrapAll(req, deadline, resp);
      });
}

grpc::ServerUnaryReactor* VaultAdminService::CreateBackup(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  return Serve<v1::CreateBackupRequest, v1::CreateBackupResponse>(
      "/wxvault.v1.VaultAdmin/CreateBackup", ctx, request, response,
      [this](const v1::CreateBackupRequest& req, v1::CreateBackupResponse* resp, absl::Time) {
        return deps_.maintenance->CreateBackup(req, resp);
      });
}

grpc::ServerUnaryReactor* VaultAdminService::Compact(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return Serve<v1::CompactRequest, v1::CompactResponse>(
      "/wxvault.v1.VaultAdmin/Compact", ctx, request, response,
      [this](const v1::CompactRequest&, v1::CompactResponse* resp, absl::Time) {
        return deps_.maintenance->Compact(resp);
      });
}

absl::Status VaultAdminService::DoListTokens(const v1::ListTokensRequest& request, v1::ListTokensResponse* response) {
  if (request.page_size() < 0) {
    return MakeError(absl::StatusCode::kInvalidArgument, "page_size must be >= 0", reason::kInvalidArgument);
  }
  vault::ListTokensOptions options;
  if (!request.app_id().empty()) {
    absl::StatusOr<const WeChatApp*> app = deps_.apps->Resolve(request.app_id());
    if (!app.ok()) return app.status();
    options.app_id = request.app_id();
  }
  options.state = ToRecordState(request.state());
  options.page_size = request.page_size() == 0 ? kDefaultPageSize : std::min(request.page_size(), kMaxPageSize);
  options.page_token = request.page_token();
  absl::StatusOr<vault::TokenPage> page = deps_.store->ListTokens(options);
  if (absl::IsInvalidArgument(page.status())) {
    return MakeError(absl::StatusCode::kInvalidArgument, "page_token is not one ListTokens returned",
                     reason::kInvalidArgument);
  }
  if (!page.ok()) return VaultFailure(page.status());
  for (const vault::TokenRecord& record : page->records) ToTokenInfo(record, response->add_tokens());
  response->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

absl::Status VaultAdminService::DoGetToken(const v1::GetTokenRequest& request, v1::GetTokenResponse* response) {
  absl::StatusOr<const WeChatApp*> app = deps_.apps->Resolve(request.app_id());
  if (!app.ok()) return app.status();
  if (absl::Status s = ValidateOpenid(request.openid()); !s.ok()) return s;
  const vault::TokenKey key{(*app)->app_id, request.openid()};
  absl::StatusOr<vault::TokenRecord> record = deps_.store->GetToken(key);
  if (absl::IsNotFound(record.status())) {
    return MakeError(absl::StatusCode::kNotFound, "no token stored for this openid", reason::kTokenNotFound);
  }
  if (!record.ok()) return VaultFailure(record.status());
  int64_t profile_fetched_at_ms = 0;
  absl::StatusOr<vault::ProfileEntry> profile = deps_.store->GetProfile(key);
  if (profile.ok()) {
    profile_fetched_at_ms = profile->fetched_at_ms();
  } else if (!absl::IsNotFound(profile.status())) {
    return VaultFailure(profile.status());
  }
  ToGetTokenResponse(*record, profile_fetched_at_ms, response);
  return absl::OkStatus();
}

absl::Status VaultAdminService::DoGetVaultStatus(v1::GetVaultStatusResponse* response) {
  absl::StatusOr<vault::StoreStats> stats = deps_.store->Stats();
  if (!stats.ok()) return VaultFailure(stats.status());
  const absl::Time now = deps_.clock->Now();
  response->set_version(WXVAULT_VERSION);
  SetTimestamp(deps_.started_at, response->mutable_started_at());
  SetTimestamp(now, response->mutable_server_time());
  response->set_demo(deps_.demo);
  for (const auto& [state, count] : stats->tokens_by_state) {
    AddCount(state, static_cast<uint64_t>(std::max<int64_t>(count, 0)), response->mutable_token_counts());
  }
  // Upstream pauses are per endpoint for all apps together (one limiter).
  std::vector<v1::UpstreamPause> pauses;
  for (WeChatEndpoint endpoint : {WeChatEndpoint::kExchangeCode, WeChatEndpoint::kRefreshToken,
                                  WeChatEndpoint::kAuth, WeChatEndpoint::kUserInfo}) {
    if (absl::optional<absl::Time> until = deps_.limiter->PausedUntil(EndpointPath(endpoint))) {
      v1::UpstreamPause& pause = pauses.emplace_back();
      pause.set_endpoint(std::string(EndpointPath(endpoint)));
      SetTimestamp(*until, pause.mutable_until());
      pause.set_wechat_errcode(45011);
    }
  }
  for (const std::string& app_id : deps_.apps->app_ids()) {
    v1::AppStatus* app = response->add_apps();
    app->set_app_id(app_id);
    for (const v1::UpstreamPause& pause : pauses) *app->add_upstream_pauses() = pause;
  }
  const vault::Keyring& keyring = deps_.sealer->keyring();
  response->set_active_key_id(keyring.active_key_id());
  for (const std::string& key_id : keyring.key_ids()) {
    v1::KeyStatus* key = response->add_keys();
    key->set_key_id(key_id);
    key->set_active(key_id == keyring.active_key_id());
    auto it = stats->sealed_by_key.find(key_id);
    key->set_record_count(it == stats->sealed_by_key.end() ? 0 : static_cast<uint64_t>(std::max<int64_t>(it->second, 0)));
  }
  absl::StatusOr<std::optional<int64_t>> next_due = deps_.store->NextDueAt();
  if (!next_due.ok()) return VaultFailure(next_due.status());
  v1::RefresherStatus* refresher = response->mutable_refresher();
  if (next_due->has_value()) SetTimestampMillis(**next_due, refresher->mutable_next_due_at());
  absl::StatusOr<std::vector<vault::DueEntry>> overdue = deps_.store->ReadDue(absl::ToUnixMillis(now),
                                                                              kMaxBacklogCounted);
  if (!overdue.ok()) return VaultFailure(overdue.status());
  refresher->set_backlog(overdue->size());
  if (deps_.refresher != nullptr) refresher->set_in_flight(static_cast<uint32_t>(deps_.refresher->InFlight()));
  if (!overdue->empty()) SetTimestampMillis(overdue->front().due_at_ms, refresher->mutable_oldest_overdue_at());
  response->set_data_dir(deps_.data_dir);
  response->set_data_size_bytes(stats->data_size_bytes);
  response->set_oldest_event_sequence(stats->first_event_sequence);
  response->set_newest_event_sequence(stats->last_event_sequence);
  return absl::OkStatus();
}

}  // namespace wxvault::service
