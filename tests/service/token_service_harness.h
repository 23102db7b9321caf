// TokenServiceHarness: a TokenService wired to the real libcurl WeChatClient,
// the fake WeChat over loopback and a real RocksDB vault in a temp dir, with
// one FakeClock for both sides. Shared by the TokenService and refresher
// tests.
#ifndef WXVAULT_TESTS_SERVICE_TOKEN_SERVICE_HARNESS_H_
#define WXVAULT_TESTS_SERVICE_TOKEN_SERVICE_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/token_service.h"
#include "tests/service/test_support.h"
#include "tests/testing/temp_dir.h"
#include "vault/keyring.h"
#include "vault/rocks_token_store.h"

namespace wxvault::service::testing {

using fake::FakeEndpoint;

inline constexpr char kApp[] = "wxfakeapp0000001";

class TokenServiceHarness : public ::testing::Test {
 protected:
  void SetUp() override { Build(fake::FakeWeChatOptions(), TokenServiceOptions()); }

  void Build(fake::FakeWeChatOptions fake_options, TokenServiceOptions options,
             RateLimiterOptions limiter = RateLimiterOptions()) {
    service_.reset();
    store_.reset();
    harness_ = MakeHarness(std::move(fake_options), WeChatClientOptions(), limiter);
    auto keyring = vault::Keyring::FromRawKeys({{"k1", std::string(32, '\x11')}});
    ASSERT_TRUE(keyring.ok());
    keyring_ = *std::move(keyring);
    sealer_ = std::make_unique<vault::Sealer>(keyring_.get());
    vault::RocksTokenStoreOptions store_options;
    store_options.path = dir_.Sub(absl::StrCat("vault-", ++vaults_));
    auto store = vault::RocksTokenStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto apps = AppRegistry::Create({harness_->app});
    ASSERT_TRUE(apps.ok());
    apps_ = *std::move(apps);
    auto service = TokenService::Create(ServiceDeps(), options);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
  }

  // The harness's dependencies for a TokenService, with `store` as its vault
  // (default: store_).
  TokenService::Deps ServiceDeps(vault::TokenStore* store = nullptr) const {
    TokenService::Deps deps;
    deps.store = store != nullptr ? store : store_.get();
    deps.sealer = sealer_.get();
    deps.wechat = harness_->client.get();
    deps.apps = apps_.get();
    deps.clock = &harness_->clock;
    return deps;
  }

  absl::Time Deadline() const { return harness_->clock.Now() + absl::Seconds(10); }
  int Calls(FakeEndpoint endpoint) const { return harness_->fake->CallCount(endpoint); }

  // Logs `openid` in through the service; returns the stored record.
  ExchangeResult Login(const std::string& openid, bool include_user_info = false) {
    const std::string code = harness_->fake->MintCode(openid);
    auto result = service_->Exchange(kApp, code, include_user_info, "", Deadline());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : ExchangeResult{};
  }

  std::vector<vault::EventType> EventTypes() {
    std::vector<vault::EventType> types;
    absl::StatusOr<std::vector<vault::EventRecord>> events = store_->ReadEvents(0, 1000);
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) return types;
    for (const vault::EventRecord& e : *events) types.push_back(e.type());
    return types;
  }

  wxvault::testing::TempDir dir_;
  int vaults_ = 0;
  std::unique_ptr<Harness> harness_;
  std::unique_ptr<vault::Keyring> keyring_;
  std::unique_ptr<vault::Sealer> sealer_;
  std::unique_ptr<vault::RocksTokenStore> store_;
  std::unique_ptr<AppRegistry> apps_;
  std::unique_ptr<TokenService> service_;
};

}  // namespace wxvault::service::testing

#endif  // WXVAULT_TESTS_SERVICE_TOKEN_SERVICE_HARNESS_H_
