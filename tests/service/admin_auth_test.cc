#include "service/admin_auth.h"

#include "gtest/gtest.h"
#include "service/error_reason.h"

namespace wxvault::service {
namespace {

TEST(AdminAuthTest, WithATokenEveryCallNeedsIt) {
  AdminAuthorizer auth("t0ken", /*demo=*/false);
  absl::Status missing = auth.Check("unix:", std::nullopt);
  EXPECT_TRUE(absl::IsUnauthenticated(missing));
  EXPECT_EQ(ReasonOf(missing), "ADMIN_CREDENTIAL_MISSING");
  for (const char* wrong : {"Bearer t0ke", "Bearer t0ken2", "Basic t0ken", "t0ken", "Bearer "}) {
    absl::Status denied = auth.Check("ipv4:127.0.0.1:1", absl::string_view(wrong));
    EXPECT_TRUE(absl::IsPermissionDenied(denied)) << wrong;
    EXPECT_EQ(ReasonOf(denied), "ADMIN_CREDENTIAL_INVALID") << wrong;
    EXPECT_EQ(denied.message().find("t0k"), absl::string_view::npos);  // never echoed
  }
  EXPECT_TRUE(auth.Check("ipv4:127.0.0.1:1", absl::string_view("Bearer t0ken")).ok());
  EXPECT_TRUE(auth.Check("ipv4:127.0.0.1:1", absl::string_view("bearer  t0ken ")).ok());
}

TEST(AdminAuthTest, WithoutATokenOnlyUnixSocketsOrDemo) {
  AdminAuthorizer auth("", /*demo=*/false);
  EXPECT_TRUE(auth.Check("unix:/run/wxvault.sock", std::nullopt).ok());
  EXPECT_TRUE(auth.Check("unix:", std::nullopt).ok());
  absl::Status disabled = auth.Check("ipv4:10.0.0.1:5000", absl::string_view("Bearer x"));
  EXPECT_TRUE(absl::IsPermissionDenied(disabled));
  EXPECT_EQ(ReasonOf(disabled), "ADMIN_DISABLED");
  AdminAuthorizer demo("", /*demo=*/true);
  EXPECT_TRUE(demo.Check("ipv4:127.0.0.1:5000", std::nullopt).ok());
}

}  // namespace
}  // namespace wxvault::service
