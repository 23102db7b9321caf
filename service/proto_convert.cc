#include "service/proto_convert.h"

namespace wxvault::service {

void SetTimestampMillis(int64_t unix_ms, google::protobuf::Timestamp* out) {
  if (unix_ms == 0) {
    out->Clear();
    return;
  }
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    seconds -= 1;
    millis += 1000;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(millis * 1'000'000));
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  absl::Duration rem;
  const int64_t seconds = absl::IDivDuration(since_epoch, absl::Seconds(1), &rem);
  int64_t nanos = absl::ToInt64Nanoseconds(rem);
  out->set_seconds(nanos < 0 ? seconds - 1 : seconds);
  out->set_nanos(static_cast<int32_t>(nanos < 0 ? nanos + 1'000'000'000 : nanos));
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  absl::Duration rem;
  out->set_seconds(absl::IDivDuration(d, absl::Seconds(1), &rem));
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
}

wxvault::v1::TokenState ToTokenState(vault::RecordState state) {
  switch (state) {
    case vault::RECORD_STATE_ACTIVE:
      return wxvault::v1::TOKEN_STATE_ACTIVE;
    case vault::RECORD_STATE_REAUTH_REQUIRED:
      return wxvault::v1::TOKEN_STATE_REAUTH_REQUIRED;
    case vault::RECORD_STATE_REVOKED:
      return wxvault::v1::TOKEN_STATE_REVOKED;
    default:
      return wxvault::v1::TOKEN_STATE_UNSPECIFIED;
  }
}

vault::RecordState ToRecordState(wxvault::v1::TokenState state) {
  switch (state) {
    case wxvault::v1::TOKEN_STATE_ACTIVE:
      return vault::RECORD_STATE_ACTIVE;
    case wxvault::v1::TOKEN_STATE_REAUTH_REQUIRED:
      return vault::RECORD_STATE_REAUTH_REQUIRED;
    case wxvault::v1::TOKEN_STATE_REVOKED:
      return vault::RECORD_STATE_REVOKED;
    default:
      return vault::RECORD_STATE_UNSPECIFIED;
  }
}

namespace {

// Sets a Timestamp field only for a set time (ms != 0).
template <typename Message>
void SetTime(int64_t unix_ms, Message* message, google::protobuf::Timestamp* (Message::*mutable_field)()) {
  if (unix_ms != 0) SetTimestampMillis(unix_ms, (message->*mutable_field)());
}

}  // namespace

void ToTokenInfo(const vault::TokenRecord& record, wxvault::v1::TokenInfo* out) {
  using wxvault::v1::TokenInfo;
  out->Clear();
  out->set_app_id(record.app_id());
  out->set_openid(record.openid());
  out->set_unionid(record.unionid());
  for (const std::string& scope : record.scopes()) out->add_scopes(scope);
  out->set_state(ToTokenState(record.state()));
  SetTime(record.access_token_expires_at_ms(), out, &TokenInfo::mutable_access_token_expires_at);
  SetTime(record.refresh_token_expires_at_ms(), out, &TokenInfo::mutable_refresh_token_expires_at);
  SetTime(record.created_at_ms(), out, &TokenInfo::mutable_created_at);
  // A login's first tokens come from the exchange, which is not a refresh.
  if (record.last_refreshed_at_ms() != record.created_at_ms()) {
    SetTime(record.last_refreshed_at_ms(), out, &TokenInfo::mutable_last_refreshed_at);
  }
}

void ToGetTokenResponse(const vault::TokenRecord& record, int64_t profile_fetched_at_ms,
                        wxvault::v1::GetTokenResponse* out) {
  using wxvault::v1::GetTokenResponse;
  out->Clear();
  ToTokenInfo(record, out->mutable_token());
  out->set_key_id(record.key_id());
  out->set_generation(record.generation());
  SetTime(record.refresh_token_issued_at_ms(), out, &GetTokenResponse::mutable_refresh_token_issued_at);
  if (record.state() == vault::RECORD_STATE_ACTIVE) {
    SetTime(record.renew_at_ms(), out, &GetTokenResponse::mutable_renew_at);
    SetTime(record.next_due_at_ms(), out, &GetTokenResponse::mutable_next_refresh_at);
  }
  out->set_failure_count(record.failure_count());
  out->set_last_error(record.last_error());
  out->set_last_wechat_errcode(record.last_wechat_errcode());
  SetTime(record.last_used_at_ms(), out, &GetTokenResponse::mutable_last_used_at);
  SetTime(record.state_changed_at_ms(), out, &GetTokenResponse::mutable_state_changed_at);
  if (record.state() == vault::RECORD_STATE_REVOKED) {
    SetTime(record.revoked_at_ms(), out, &GetTokenResponse::mutable_revoked_at);
  }
  out->set_expiring_soon_notified(record.expiring_soon_notified());
  SetTime(profile_fetched_at_ms, out, &GetTokenResponse::mutable_profile_fetched_at);
}

void ToTokenEvent(const vault::EventRecord& event, wxvault::v1::TokenEvent* out) {
  out->Clear();
  out->set_sequence(event.sequence());
  // The two enums share their numbering (token_record.proto mirrors types.proto).
  out->set_type(wxvault::v1::TokenEventType_IsValid(event.type())
                    ? static_cast<wxvault::v1::TokenEventType>(event.type())
                    : wxvault::v1::TOKEN_EVENT_TYPE_UNSPECIFIED);
  out->set_app_id(event.app_id());
  out->set_openid(event.openid());
  SetTime(event.at_ms(), out, &wxvault::v1::TokenEvent::mutable_at);
  out->set_detail(event.detail());
  out->set_reason(event.reason());
  out->set_wechat_errcode(event.wechat_errcode());
}

}  // namespace wxvault::service
