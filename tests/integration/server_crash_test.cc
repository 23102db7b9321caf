// Crash harness for the whole server: client threads issue Exchange, Refresh
// and Revoke against the real wxvaultd while it is SIGKILLed at random
// moments; after each restart every acknowledged result must hold:
//   * an acknowledged Exchange is present, ACTIVE and serves an access token
//     (unless it was later revoked with an acknowledged Revoke);
//   * an acknowledged Revoke is still revoked (NOT_FOUND / TOKEN_NOT_FOUND,
//     and VaultAdmin shows REVOKED).
// Iterations: $WXVAULT_CRASH_ITERATIONS (default 8 in CI; run 30+ by hand).
#include <signal.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/integration/fixture.h"

namespace wxvault::integration {
namespace {

int Iterations() {
  int n = 8;
  const char* env = std::getenv("WXVAULT_CRASH_ITERATIONS");
  if (env != nullptr) (void)absl::SimpleAtoi(env, &n);
  return std::max(n, 1);
}

// What clients saw acknowledged, across all iterations.
class Ledger {
 public:
  void Exchanged(const std::string& openid) {
    absl::MutexLock lock(&mu_);
    state_[openid] = State::kActive;
  }
  void Revoked(const std::string& openid) {
    absl::MutexLock lock(&mu_);
    state_[openid] = State::kRevoked;
  }
  // An openid acknowledged as active, to revoke or refresh (empty if none).
  std::string PickActive(std::mt19937& rng) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> active;
    for (const auto& [openid, state] : state_) {
      if (state == State::kActive) active.push_back(openid);
    }
    if (active.empty()) return "";
    return active[std::uniform_int_distribution<size_t>(0, active.size() - 1)(rng)];
  }
  // Marks an openid as "in doubt": a call on it was sent but not answered,
  // so either outcome is acceptable after the crash.
  void InDoubt(const std::string& openid) {
    absl::MutexLock lock(&mu_);
    state_[openid] = State::kInDoubt;
  }
  enum class State { kActive, kRevoked, kInDoubt };
  std::map<std::string, State> Snapshot() const {
    absl::MutexLock lock(&mu_);
    return state_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, State> state_ ABSL_GUARDED_BY(mu_);
};

class ServerCrashTest : public VaultTest {
 protected:
  // Client loop: until `stop`, mostly exchanges, some revokes and refreshes.
  void ClientLoop(int client, int iteration, std::atomic<bool>* stop, Ledger* ledger) {
    std::mt19937 rng(client * 7919 + iteration);
    auto stub = server_->TokenVault();
    for (int n = 0; !stop->load(); ++n) {
      const int dice = std::uniform_int_distribution<int>(0, 9)(rng);
      auto ctx = Context();
      ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
      if (dice < 6) {
        const std::string openid = absl::StrCat("crash_", iteration, "_", client, "_", n);
        v1::ExchangeRequest request;
        request.set_code(fake_->MintCode(openid));
        v1::ExchangeResponse response;
        if (stub->Exchange(ctx.get(), request, &response).ok()) {
          ledger->Exchanged(openid);
        } else {
          return;  // the server is gone
        }
      } else {
        const std::string openid = ledger->PickActive(rng);
        if (openid.empty()) continue;
        if (dice < 8) {
          ledger->InDoubt(openid);
          v1::RevokeRequest request;
          request.set_openid(openid);
          v1::RevokeResponse response;
          if (!stub->Revoke(ctx.get(), request, &response).ok()) return;
          ledger->Revoked(openid);
        } else {
          v1::RefreshRequest request;
          request.set_openid(openid);
          v1::RefreshResponse response;
          if (!stub->Refresh(ctx.get(), request, &response).ok()) return;
        }
      }
    }
  }

  // Checks every acknowledged outcome against the restarted server.
  void Verify(const Ledger& ledger) {
    int active = 0, revoked = 0;
    for (const auto& [openid, state] : ledger.Snapshot()) {
      if (state == Ledger::State::kInDoubt) continue;
      v1::GetAccessTokenRequest request;
      request.set_openid(openid);
      v1::GetAccessTokenResponse response;
      auto ctx = Context();
      grpc::Status status = vault_->GetAccessToken(ctx.get(), request, &response);
      if (state == Ledger::State::kActive) {
        ++active;
        ASSERT_TRUE(status.ok()) << "acknowledged exchange of " << openid << " lost: " << status.error_message();
        EXPECT_FALSE(response.access_token().empty());
      } else {
        ++revoked;
        ASSERT_TRUE(IsRpcError(status, *ctx, grpc::StatusCode::NOT_FOUND, "TOKEN_NOT_FOUND"))
            << "acknowledged revoke of " << openid << " undone";
      }
    }
    std::printf("verified %d active and %d revoked tokens\n", active, revoked);
  }
};

TEST_F(ServerCrashTest, AcknowledgedResultsSurviveKillNine) {
  const int iterations = Iterations();
  Ledger ledger;
  std::mt19937 rng(std::random_device{}());
  int kills_with_work = 0;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    SCOPED_TRACE(absl::StrCat("iteration ", iteration));
    if (server_ == nullptr) StartServer();
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&, c] { ClientLoop(c, iteration, &stop, &ledger); });
    }
    // Let the clients run for a random moment, then kill -9 the server. The
    // wait is the crash's timing, not a wait for time to pass in the code.
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(100, 600)(rng)));
    const size_t before = ledger.Snapshot().size();
    ASSERT_EQ(kill(server_->child().pid(), SIGKILL), 0);
    EXPECT_EQ(server_->child().WaitForExit(absl::Seconds(10)), 128 + SIGKILL);
    stop = true;
    for (std::thread& t : clients) t.join();
    if (ledger.Snapshot().size() > before || before > 0) ++kills_with_work;
    vault_.reset();
    admin_.reset();
    server_.reset();
    StartServer();
    Verify(ledger);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(kills_with_work, 0);
  std::printf("%d kills, %zu tokens tracked\n", iterations, ledger.Snapshot().size());
}

}  // namespace
}  // namespace wxvault::integration
