#include "service/proto_convert.h"

#include "gtest/gtest.h"

namespace wxvault::service {
namespace {

TEST(ProtoConvertTest, TokenInfoCarriesMetadataOnly) {
  vault::TokenRecord record;
  record.set_app_id("wxapp1");
  record.set_openid("o1");
  record.set_unionid("u1");
  record.add_scopes("snsapi_userinfo");
  record.set_state(vault::RECORD_STATE_REAUTH_REQUIRED);
  record.set_sealed_secrets("sealed-bytes");
  record.set_access_token_expires_at_ms(1'750'000'000'123);
  record.set_refresh_token_expires_at_ms(1'760'000'000'000);
  record.set_created_at_ms(1'740'000'000'000);
  record.set_last_refreshed_at_ms(1'740'000'000'000);
  wxvault::v1::TokenInfo info;
  ToTokenInfo(record, &info);
  EXPECT_EQ(info.app_id(), "wxapp1");
  EXPECT_EQ(info.unionid(), "u1");
  EXPECT_EQ(info.state(), wxvault::v1::TOKEN_STATE_REAUTH_REQUIRED);
  EXPECT_EQ(info.access_token_expires_at().seconds(), 1'750'000'000);
  EXPECT_EQ(info.access_token_expires_at().nanos(), 123'000'000);
  EXPECT_FALSE(info.has_last_refreshed_at());  // never refreshed since login
  EXPECT_EQ(info.SerializeAsString().find("sealed-bytes"), std::string::npos);
  record.set_last_refreshed_at_ms(1'745'000'000'000);
  ToTokenInfo(record, &info);
  EXPECT_EQ(info.last_refreshed_at().seconds(), 1'745'000'000);
}

TEST(ProtoConvertTest, StatesMapBothWays) {
  for (auto [record, token] : {std::pair{vault::RECORD_STATE_ACTIVE, wxvault::v1::TOKEN_STATE_ACTIVE},
                               {vault::RECORD_STATE_REAUTH_REQUIRED, wxvault::v1::TOKEN_STATE_REAUTH_REQUIRED},
                               {vault::RECORD_STATE_REVOKED, wxvault::v1::TOKEN_STATE_REVOKED},
                               {vault::RECORD_STATE_UNSPECIFIED, wxvault::v1::TOKEN_STATE_UNSPECIFIED}}) {
    EXPECT_EQ(ToTokenState(record), token);
    EXPECT_EQ(ToRecordState(token), record);
  }
}

TEST(ProtoConvertTest, GetTokenResponseAdminFields) {
  vault::TokenRecord record;
  record.set_state(vault::RECORD_STATE_REVOKED);
  record.set_generation(7);
  record.set_revoked_at_ms(1'000);
  record.set_next_due_at_ms(2'000);  // tombstone purge, not a refresh
  record.set_failure_count(2);
  record.set_last_error("UPSTREAM_UNAVAILABLE");
  wxvault::v1::GetTokenResponse response;
  ToGetTokenResponse(record, 0, &response);
  EXPECT_EQ(response.generation(), 7u);
  EXPECT_EQ(response.revoked_at().seconds(), 1);
  EXPECT_FALSE(response.has_next_refresh_at());
  EXPECT_FALSE(response.has_profile_fetched_at());
  EXPECT_EQ(response.failure_count(), 2u);
  EXPECT_EQ(response.last_error(), "UPSTREAM_UNAVAILABLE");
}

TEST(ProtoConvertTest, EventsKeepTheirTypeAndSequence) {
  vault::EventRecord event;
  event.set_sequence(42);
  event.set_type(vault::EVENT_TYPE_REFRESH_FAILED);
  event.set_app_id("wxapp1");
  event.set_at_ms(5'500);
  event.set_reason("UPSTREAM_UNAVAILABLE");
  event.set_wechat_errcode(-1);
  wxvault::v1::TokenEvent out;
  ToTokenEvent(event, &out);
  EXPECT_EQ(out.sequence(), 42u);
  EXPECT_EQ(out.type(), wxvault::v1::TOKEN_EVENT_TYPE_REFRESH_FAILED);
  EXPECT_EQ(out.at().seconds(), 5);
  EXPECT_EQ(out.at().nanos(), 500'000'000);
  EXPECT_EQ(out.wechat_errcode(), -1);
}

}  // namespace
}  // namespace wxvault::service
