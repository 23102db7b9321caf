#include "service/token_service_internal.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"

namespace wxvault::service::token_internal {

vault::EventRecord MakeEvent(vault::EventType type, const vault::TokenKey& key, int64_t now_ms,
                             absl::string_view detail, const absl::Status& cause) {
  vault::EventRecord event;
  event.set_type(type);
  event.set_app_id(key.app_id);
  event.set_openid(key.openid);
  event.set_at_ms(now_ms);
  event.set_detail(std::string(detail));
  if (!cause.ok()) {
    event.set_reason(ReasonOf(cause));
    if (absl::optional<int> errcode = WeChatErrcodeOf(cause)) event.set_wechat_errcode(*errcode);
  }
  return event;
}

std::string RefreshLockName(const vault::TokenKey& key) {
  return absl::StrCat("r:", key.app_id, "\n", key.openid);
}

absl::Status TokenNotFound() {
  return MakeError(absl::StatusCode::kNotFound, "no token for this openid (never exchanged, or revoked)",
                   reason::kTokenNotFound);
}

absl::Status ReauthRequired(absl::string_view why) {
  return MakeError(absl::StatusCode::kFailedPrecondition, absl::StrCat("the user must log in again: ", why),
                   reason::kReauthRequired);
}

}  // namespace wxvault::service::token_internal
