// CurlHttpClient over real loopback sockets against the fake WeChat's HTTP
// server: connection reuse, size cap, transport error mapping.
#include "service/curl_http_client.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "tests/fake_wechat/fake_wechat.h"

namespace wxvault::service {
namespace {

using fake::FakeEndpoint;
using fake::Fault;
using fake::FaultKind;

class CurlHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = fake::FakeWeChat::Start(fake::FakeWeChatOptions());
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    auto client = CurlHttpClient::Create();
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  absl::StatusOr<HttpResponse> Get(absl::string_view path,
                                   absl::Duration timeout = absl::Seconds(5)) {
    return client_->Get({absl::StrCat(fake_->base_url(), path), timeout});
  }
  void Inject(FakeEndpoint endpoint, FaultKind kind) {
    Fault f;
    f.kind = kind;
    f.stall = absl::Milliseconds(800);
    fake_->InjectFault(endpoint, f);
  }
  // A loopback port with nothing listening.
  int ClosedPort() {
    auto other = fake::FakeWeChat::Start(fake::FakeWeChatOptions());
    EXPECT_TRUE(other.ok());
    int port = (*other)->port();
    (*other)->Stop();
    return port;
  }

  std::unique_ptr<fake::FakeWeChat> fake_;
  std::unique_ptr<CurlHttpClient> client_;
};

TEST_F(CurlHttpClientTest, ReturnsAnyStatusWithBodyAndHeaders) {
  auto ok = Get("/sns/auth?access_token=x&openid=y");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status_code, 200);
  EXPECT_EQ(ok->content_type, "text/plain");
  EXPECT_NE(ok->body.find("\"errcode\":40014"), std::string::npos);
  // Names are lower-cased; the body arrives decoded (the fake compresses).
  bool saw_type = false;
  for (const auto& [name, value] : ok->headers) {
    if (name == "content-type") saw_type = value == "text/plain";
  }
  EXPECT_TRUE(saw_type);
  auto missing = Get("/control/nope");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status_code, 404);
}

TEST_F(CurlHttpClientTest, ReusesConnections) {
  std::vector<int> connects;
  for (int i = 0; i < 5; ++i) {
    auto r = Get("/control/stats");
    ASSERT_TRUE(r.ok()) << r.status();
    connects.push_back(r->new_connections);
  }
  EXPECT_EQ(connects, (std::vector<int>{1, 0, 0, 0, 0}));
}

TEST_F(CurlHttpClientTest, ABurstOpensAtMostOneConnectionPerThread) {
  std::atomic<int> connects{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = Get("/control/stats");
        if (!r.ok()) {
          failures.fetch_add(1);
        } else {
          connects.fetch_add(r->new_connections);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(connects.load(), 4);
}

TEST_F(CurlHttpClientTest, ResetIsUnavailableAfterSending) {
  Inject(FakeEndpoint::kAuth, FaultKind::kReset);
  auto r = Get("/sns/auth?access_token=x&openid=y");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(r.status()), "UPSTREAM_UNAVAILABLE");
  EXPECT_FALSE(RequestNotSent(r.status()));
  // The client recovers on the next call.
  EXPECT_TRUE(Get("/sns/auth?access_token=x&openid=y").ok());
}

TEST_F(CurlHttpClientTest, StallHitsTheTotalTimeout) {
  Inject(FakeEndpoint::kAuth, FaultKind::kStall);
  absl::Time start = absl::Now();
  auto r = Get("/sns/auth?access_token=x&openid=y", absl::Milliseconds(150));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(700));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("Timeout"), std::string::npos)
      << r.status();
  EXPECT_FALSE(RequestNotSent(r.status()));
}

TEST_F(CurlHttpClientTest, RefusedConnectionIsMarkedNotSent) {
  auto r = client_->Get(
      {absl::StrCat("http://127.0.0.1:", ClosedPort(),
                    "/sns/oauth2/access_token?secret=TOPSECRET&code=C0DE"),
       absl::Seconds(2)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(RequestNotSent(r.status()));
  std::string text = r.status().ToString();
  EXPECT_NE(text.find("/sns/oauth2/access_token"), std::string::npos) << text;
  EXPECT_EQ(text.find("TOPSECRET"), std::string::npos) << text;
  EXPECT_EQ(text.find("C0DE"), std::string::npos) << text;
}

TEST_F(CurlHttpClientTest, HttpsToAPlainServerFailsTheHandshake) {
  auto r = client_->Get({absl::StrCat("https://127.0.0.1:", fake_->port(),
                                      "/sns/auth"),
                         absl::Seconds(2)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(RequestNotSent(r.status()));
}

TEST_F(CurlHttpClientTest, CapsResponseSize) {
  // Chunked (no Content-Length): cut while streaming.
  Inject(FakeEndpoint::kAuth, FaultKind::kOversize);
  auto r = Get("/sns/auth?access_token=x&openid=y");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("larger than 1048576"), std::string::npos)
      << r.status();
  // With Content-Length over a small cap: refused up front.
  CurlHttpClientOptions options;
  options.max_response_bytes = 16;
  auto small = CurlHttpClient::Create(options);
  ASSERT_TRUE(small.ok());
  auto s = (*small)->Get({absl::StrCat(fake_->base_url(), "/control/stats"),
                          absl::Seconds(2)});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("larger than 16"), std::string::npos)
      << s.status();
}

TEST_F(CurlHttpClientTest, RejectsNonHttpUrlsAndBadOptions) {
  auto r = client_->Get({"file:///etc/passwd", absl::Seconds(1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ReasonOf(r.status()), "UPSTREAM_BAD_REQUEST");
  CurlHttpClientOptions options;
  options.connect_timeout = absl::ZeroDuration();
  EXPECT_FALSE(CurlHttpClient::Create(options).ok());
}

}  // namespace
}  // namespace wxvault::service
