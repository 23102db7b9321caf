#include "service/http_client.h"

#include "absl/strings/cord.h"

namespace wxvault::service {
namespace {
constexpr absl::string_view kNotSentTypeUrl = "type.wxvault.dev/request-not-sent";
}  // namespace

absl::Status MarkRequestNotSent(absl::Status status) {
  status.SetPayload(kNotSentTypeUrl, absl::Cord("1"));
  return status;
}

bool RequestNotSent(const absl::Status& status) {
  return status.GetPayload(kNotSentTypeUrl).has_value();
}

}  // namespace wxvault::service
