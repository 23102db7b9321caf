#include "service/token_vault_service.h"

#include <memory>
#include <string>
#include <utility>

#include "grpcpp/support/slice.h"
#include "service/error_reason.h"
#include "service/proto_convert.h"
#include "service/unary_call.h"
#include "service/watch_events.h"

namespace wxvault::service {

namespace v1 = wxvault::v1;

namespace {

void FillAccessTokenResponse(const vault::TokenRecord& record, std::string access_token, bool refreshed,
                             v1::GetAccessTokenResponse* resp) {
  resp->set_access_token(std::move(access_token));
  SetTimestampMillis(record.access_token_expires_at_ms(), resp->mutable_expires_at());
  ToTokenInfo(record, resp->mutable_token());
  resp->set_refreshed(refreshed);
}

}  // namespace

grpc::ServerUnaryReactor* TokenVaultService::Exchange(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return ServeUnary<v1::ExchangeRequest, v1::ExchangeResponse>(
      ctx, request, response, env_, "/wxvault.v1.TokenVault/Exchange",
      [this](const v1::ExchangeRequest& req, v1::ExchangeResponse* resp, absl::Time deadline) {
        absl::StatusOr<ExchangeResult> result =
            deps_.tokens->Exchange(req.app_id(), req.code(), req.include_user_info(), req.lang(), deadline);
        if (!result.ok()) return result.status();
        ToTokenInfo(result->record, resp->mutable_token());
        resp->set_access_token(std::move(result->access_token));
        if (result->user_info.has_value()) *resp->mutable_user_info() = std::move(*result->user_info);
        resp->set_replayed(result->replayed);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* TokenVaultService::Refresh(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return ServeUnary<v1::RefreshRequest, v1::RefreshResponse>(
      ctx, request, response, env_, "/wxvault.v1.TokenVault/Refresh",
      [this](const v1::RefreshRequest& req, v1::RefreshResponse* resp, absl::Time deadline) {
        absl::StatusOr<AccessTokenResult> result = deps_.tokens->Refresh(req.app_id(), req.openid(), deadline);
        if (!result.ok()) return result.status();
        ToTokenInfo(result->record, resp->mutable_token());
        resp->set_access_token(std::move(result->access_token));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* TokenVaultService::GetUserInfo(grpc::CallbackServerContext* ctx,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return ServeUnary<v1::GetUserInfoRequest, v1::GetUserInfoResponse>(
      ctx, request, response, env_, "/wxvault.v1.TokenVault/GetUserInfo",
      [this](const v1::GetUserInfoRequest& req, v1::GetUserInfoResponse* resp, absl::Time deadline) {
        absl::StatusOr<UserInfoResult> result = deps_.tokens->GetUserInfo(
            req.app_id(), req.openid(), req.lang(), absl::Seconds(req.max_age_seconds()), deadline);
        if (!result.ok()) return result.status();
        *resp->mutable_user_info() = std::move(result->user_info);
        resp->set_cached(result->cached);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* TokenVaultService::GetAccessToken(grpc::CallbackServerContext* ctx,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return ServeUnary<v1::GetAccessTokenRequest, v1::GetAccessTokenResponse>(
      ctx, request, response, env_, "/wxvault.v1.TokenVault/GetAccessToken",
      [this](const v1::GetAccessTokenRequest& req, v1::GetAccessTokenResponse* resp, absl::Time deadline) {
        absl::StatusOr<AccessTokenResult> result = deps_.tokens->GetAccessToken(
            req.app_id(), req.openid(), absl::Seconds(req.min_ttl_seconds()), deadline);
        if (!result.ok()) return result.status();
        FillAccessTokenResponse(result->record, std::move(result->access_token), result->refreshed, resp);
        return absl::OkStatus();
      },
      /*observer=*/nullptr,
      // A warm token is answered from memory on the callback thread.
      [this](const v1::GetAccessTokenRequest& req, grpc::ByteBuffer* raw) {
        const CachedAccessToken* cached =
            deps_.tokens->GetAccessTokenCached(req.app_id(), req.openid(), absl::Seconds(req.min_ttl_seconds()));
        if (cached == nullptr) return false;
        // Serialized once per cached token version, not once per call.
        const absl::string_view answer = cached->Rendered([cached] {
          v1::GetAccessTokenResponse resp;
          FillAccessTokenResponse(cached->record, std::string(cached->access_token.view()), /*refreshed=*/false,
                                  &resp);
          return resp.SerializeAsString();
        });
        grpc::Slice slice(answer.data(), answer.size());
        *raw = grpc::ByteBuffer(&slice, 1);
        return true;
      });
}

grpc::ServerUnaryReactor* TokenVaultService::Revoke(grpc::CallbackServerContext* ctx,
                                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return ServeUnary<v1::RevokeRequest, v1::RevokeResponse>(
      ctx, request, response, env_, "/wxvault.v1.TokenVault/Revoke",
      [this](const v1::RevokeRequest& req, v1::RevokeResponse* resp, absl::Time) {
        absl::StatusOr<bool> existed = deps_.tokens->Revoke(req.app_id(), req.openid());
        if (!existed.ok()) return existed.status();
        resp->set_existed(*existed);
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* TokenVaultService::WatchEvents(grpc::CallbackServerContext* ctx,
                                                                           const grpc::ByteBuffer* request) {
  v1::WatchEventsRequest req;
  absl::Status error = ParseRawRequest(request, &req);
  if (error.ok() && !req.app_id().empty()) {
    // Validates the app id and answers UNKNOWN_APP for one not configured.
    absl::StatusOr<const WeChatApp*> app = deps_.apps->Resolve(req.app_id());
    if (!app.ok()) error = app.status();
  }
  WatchEventsReactor::Deps deps{deps_.store, deps_.notifier, deps_.pool, deps_.metrics};
  return new WatchEventsReactor(ctx, deps, req.app_id(), req.after_sequence(), error);
}

}  // namespace wxvault::service
