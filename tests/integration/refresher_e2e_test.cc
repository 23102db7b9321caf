// The background refresher end to end: the real wxvaultd with short windows
// against the standalone fake WeChat, observed the way a service would, with
// WatchEvents, GetAccessToken and VaultAdmin/GetToken.
//
// wxvaultd runs on the real clock, so these tests wait in real time; they wait
// for *events* on a WatchEvents stream (with a deadline), never for a fixed
// time. Windows: --refresh_token_ttl=6s --renew_before=4s, so renewal falls
// 2-4 s after login and the window ends at 6 s.
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fixture.h"

namespace wxvault::integration {
namespace {

using v1::TokenEvent;
using v1::TokenEventType;

constexpr int64_t kTtlMs = 6000;
constexpr int64_t kRenewBeforeMs = 4000;
const std::vector<std::string> kShortWindows = {"--refresh_token_ttl=6s", "--renew_before=4s"};

int64_t Millis(const google::protobuf::Timestamp& t) { return t.seconds() * 1000 + t.nanos() / 1'000'000; }

class RefresherEndToEndTest : public VaultTest {
 protected:
  void SetUp() override {
    VaultTest::SetUp();
    StartServer(kShortWindows);
  }

  // Reads events for `openid` from a WatchEvents stream until one of type
  // `until` arrives or `timeout` passes. Returns every event read.
  std::vector<TokenEvent> WatchUntil(const std::string& openid, TokenEventType until, absl::Duration timeout) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::WatchEventsRequest request;
    std::unique_ptr<grpc::ClientReader<TokenEvent>> reader = vault_->WatchEvents(&ctx, request);
    std::vector<TokenEvent> events;
    TokenEvent event;
    while (reader->Read(&event)) {
      if (event.openid() != openid) continue;
      events.push_back(event);
      if (event.type() == until) {
        ctx.TryCancel();
        break;
      }
    }
    reader->Finish().ok();
    return events;
  }

  static std::vector<TokenEventType> Types(const std::vector<TokenEvent>& events) {
    std::vector<TokenEventType> types;
    for (const TokenEvent& e : events) types.push_back(e.type());
    return types;
  }

  v1::GetTokenResponse AdminGetToken(const std::string& openid) {
    v1::GetTokenRequest request;
    request.set_openid(openid);
    v1::GetTokenResponse response;
    auto ctx = Context();
    grpc::Status status = admin_->GetToken(ctx.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
};

TEST_F(RefresherEndToEndTest, NonRotatingTokenIsRenewedInItsRenewPeriodThenNeedsLogin) {
  const v1::ExchangeResponse login = Login("alice");
  const int64_t issued_ms = Millis(login.token().created_at());
  const int64_t end_ms = Millis(login.token().refresh_token_expires_at());
  EXPECT_EQ(end_ms - issued_ms, kTtlMs);

  std::vector<TokenEvent> events =
      WatchUntil("alice", v1::TOKEN_EVENT_TYPE_REAUTH_REQUIRED, absl::Seconds(kTtlMs / 1000 + 10));
  ASSERT_THAT(Types(events), ::testing::ElementsAre(v1::TOKEN_EVENT_TYPE_CREATED, v1::TOKEN_EVENT_TYPE_REFRESHED,
                                                    v1::TOKEN_EVENT_TYPE_EXPIRING_SOON,
                                                    v1::TOKEN_EVENT_TYPE_REAUTH_REQUIRED));
  // The renewal call happened inside the first half of the renew period
  // (plus the 2 s the refresher may take to act).
  const int64_t renewed_ms = Millis(events[1].at());
  EXPECT_GE(renewed_ms, end_ms - kRenewBeforeMs);
  EXPECT_LE(renewed_ms, end_ms - kRenewBeforeMs / 2 + 2000);
  EXPECT_EQ(fake_->CallCount("refresh_token"), 1);
  // REAUTH_REQUIRED at the window end, within 2 s.
  const int64_t ended_ms = Millis(events[3].at());
  EXPECT_GE(ended_ms, end_ms);
  EXPECT_LE(ended_ms, end_ms + 2000);

  v1::GetAccessTokenRequest request;
  request.set_openid("alice");
  v1::GetAccessTokenResponse response;
  auto ctx = Context();
  grpc::Status status = vault_->GetAccessToken(ctx.get(), request, &response);
  EXPECT_TRUE(IsRpcError(status, *ctx, grpc::StatusCode::FAILED_PRECONDITION, "REAUTH_REQUIRED"));
  EXPECT_EQ(AdminGetToken("alice").token().state(), v1::TOKEN_STATE_REAUTH_REQUIRED);
}

class RotatingRefresherEndToEndTest : public RefresherEndToEndTest {
 protected:
  std::vector<std::string> FakeArgs() override { return {"--rotate_refresh_tokens"}; }
};

TEST_F(RotatingRefresherEndToEndTest, RotatedRefreshTokenMovesTheWindowLater) {
  const v1::ExchangeResponse login = Login("bob");
  const int64_t first_end_ms = Millis(login.token().refresh_token_expires_at());
  std::vector<TokenEvent> events = WatchUntil("bob", v1::TOKEN_EVENT_TYPE_REFRESHED, absl::Seconds(10));
  ASSERT_THAT(Types(events), ::testing::ElementsAre(v1::TOKEN_EVENT_TYPE_CREATED, v1::TOKEN_EVENT_TYPE_REFRESHED));
  const v1::GetTokenResponse after = AdminGetToken("bob");
  EXPECT_EQ(after.token().state(), v1::TOKEN_STATE_ACTIVE);
  const int64_t second_end_ms = Millis(after.token().refresh_token_expires_at());
  EXPECT_GT(second_end_ms, first_end_ms);
  EXPECT_EQ(second_end_ms - Millis(events[1].at()), kTtlMs) << "the window restarts at the rotating refresh";
  EXPECT_TRUE(after.has_next_refresh_at());
}

}  // namespace
}  // namespace wxvault::integration
