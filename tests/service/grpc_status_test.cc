#include "service/grpc_status.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "service/wechat_errors.h"
#include "wxvault/v1/types.pb.h"

namespace wxvault::service {
namespace {

std::string TrailerOf(const WireStatus& wire, const std::string& key) {
  for (const auto& [k, v] : wire.trailers) {
    if (k == key) return v;
  }
  return "";
}

TEST(GrpcStatusTest, OkHasNoTrailers) {
  WireStatus wire = ToWireStatus(absl::OkStatus());
  EXPECT_TRUE(wire.status.ok());
  EXPECT_TRUE(wire.trailers.empty());
}

TEST(GrpcStatusTest, EveryErrorReasonValuePassesThroughUnchanged) {
  const google::protobuf::EnumDescriptor* reasons = wxvault::v1::ErrorReason_descriptor();
  for (int i = 0; i < reasons->value_count(); ++i) {
    const std::string name = reasons->value(i)->name().substr(std::string("ERROR_REASON_").size());
    if (name == "UNSPECIFIED") {
      EXPECT_FALSE(IsWireReason(name));
      continue;
    }
    EXPECT_TRUE(IsWireReason(name)) << name;
    WireStatus wire = ToWireStatus(MakeError(absl::StatusCode::kInvalidArgument, "m", name));
    EXPECT_EQ(TrailerOf(wire, "wxvault-reason"), name);
    EXPECT_EQ(wire.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST(GrpcStatusTest, InternalReasonsAreMappedOntoTheEnum) {
  struct Case {
    absl::string_view internal;
    absl::StatusCode code;
    std::string wire;
    grpc::StatusCode wire_code;
  };
  for (const Case& c : {Case{reason::kUpstreamError, absl::StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE",
                             grpc::StatusCode::UNAVAILABLE},
                        Case{reason::kUnauthorizedApi, absl::StatusCode::kPermissionDenied, "UPSTREAM_DENIED",
                             grpc::StatusCode::PERMISSION_DENIED},
                        Case{reason::kUpstreamBadRequest, absl::StatusCode::kInternal, "INTERNAL",
                             grpc::StatusCode::INTERNAL},
                        Case{reason::kAccessTokenInvalid, absl::StatusCode::kUnauthenticated, "UPSTREAM_UNAVAILABLE",
                             grpc::StatusCode::UNAVAILABLE}}) {
    WireStatus wire = ToWireStatus(MakeError(c.code, "m", c.internal));
    EXPECT_EQ(TrailerOf(wire, "wxvault-reason"), c.wire) << c.internal;
    EXPECT_EQ(wire.status.error_code(), c.wire_code) << c.internal;
  }
}

TEST(GrpcStatusTest, MissingReasonIsDerivedFromTheCode) {
  EXPECT_EQ(WireReason(absl::InvalidArgumentError("x")), "INVALID_ARGUMENT");
  EXPECT_EQ(WireReason(absl::NotFoundError("x")), "TOKEN_NOT_FOUND");
  EXPECT_EQ(WireReason(absl::UnavailableError("x")), "UPSTREAM_UNAVAILABLE");
  EXPECT_EQ(WireReason(absl::DataLossError("x")), "RECORD_UNREADABLE");
  EXPECT_EQ(WireReason(absl::InternalError("x")), "INTERNAL");
  EXPECT_EQ(WireReason(absl::UnknownError("x")), "INTERNAL");
  EXPECT_EQ(WireReason(MakeError(absl::StatusCode::kUnavailable, "x", "SOMETHING_NEW")), "UPSTREAM_UNAVAILABLE");
  for (int code = 1; code <= 16; ++code) {
    EXPECT_TRUE(IsWireReason(WireReason(absl::Status(static_cast<absl::StatusCode>(code), "x")))) << code;
  }
}

TEST(GrpcStatusTest, WeChatErrcodeAndRetryAfterTrailers) {
  absl::Status status = WeChatErrorStatus(45011, "api minute-quota reach limit", "/sns/auth", absl::Now());
  WireStatus wire = ToWireStatus(status);
  EXPECT_EQ(wire.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(TrailerOf(wire, "wxvault-reason"), "UPSTREAM_RATE_LIMITED");
  EXPECT_EQ(TrailerOf(wire, "wechat-errcode"), "45011");
  EXPECT_EQ(TrailerOf(wire, "retry-after-ms"), "60000");
  EXPECT_EQ(TrailerOf(ToWireStatus(absl::InternalError("x")), "wechat-errcode"), "");
}

TEST(GrpcStatusTest, EveryWeChatErrcodeReasonReachesTheWireAsAnEnumName) {
  for (const WeChatErrorInfo& info : KnownWeChatErrors()) {
    absl::Status status = WeChatErrorStatus(info.errcode, "m", "/sns/auth", absl::Now());
    EXPECT_TRUE(IsWireReason(WireReason(status))) << info.errcode << " " << info.reason;
  }
  EXPECT_TRUE(IsWireReason(WireReason(WeChatErrorStatus(99999, "m", "/sns/auth", absl::Now()))));
}

// Every reason string the server's sources attach must reach the wire as an
// ErrorReason name: scans service/*.cc and *.h for UPPER_SNAKE literals.
TEST(GrpcStatusTest, EveryReasonInTheSourcesIsAnEnumNameOrMapped) {
  const std::set<std::string> not_reasons = {"ERROR_REASON_", "WXVAULT_", "SIGINT", "SIGTERM", "UNSPECIFIED"};
  const std::regex literal("\"([A-Z][A-Z0-9_]{3,})\"");
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(WXVAULT_SOURCE_DIR "/service")) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();
    for (std::sregex_iterator it(source.begin(), source.end(), literal), end; it != end; ++it) {
      const std::string name = (*it)[1];
      if (not_reasons.count(name) > 0) continue;
      ++checked;
      EXPECT_TRUE(IsWireReason(WireReason(MakeError(absl::StatusCode::kUnavailable, "m", name))))
          << name << " in " << entry.path();
      EXPECT_TRUE(IsWireReason(name) || WireReason(MakeError(absl::StatusCode::kUnavailable, "m", name)) != name)
          << name;
    }
  }
  EXPECT_GT(checked, 20);
}

}  // namespace
}  // namespace wxvault::service
