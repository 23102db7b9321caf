// HttpClient: the one door through which wxvault talks HTTP to WeChat.
//
// A small interface so the WeChat client can be tested against a fake, and so
// every transport failure is turned into an absl::Status in exactly one place
// (the implementation's error mapping; see curl_http_client.h).
//
// Contract for implementations:
//   * Get() is thread-safe; many threads may call it at once.
//   * A response of any HTTP status is returned as a value; only transport
//     failures are errors. Errors carry a wxvault-reason:
//       UNAVAILABLE / UPSTREAM_UNAVAILABLE  DNS, connect, TLS, reset, timeout,
//                                           response over the size cap
//       INTERNAL / UPSTREAM_BAD_REQUEST     a URL the implementation refused
//     When the failure certainly happened before any request byte was sent
//     (DNS, connect, TLS handshake), the Status is marked with
//     MarkRequestNotSent(): callers may then retry even non-idempotent calls.
//   * Neither the Status message nor any log line contains the URL's query
//     string (it holds secrets); only scheme, host and path.
#ifndef WXVAULT_SERVICE_HTTP_CLIENT_H_
#define WXVAULT_SERVICE_HTTP_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace wxvault::service {

struct HttpRequest {
  // Absolute http:// or https:// URL, query string included.
  std::string url;
  // The whole exchange (connect, TLS, request, response) must finish within
  // this; the connect phase also within the client's connect timeout.
  absl::Duration timeout = absl::Seconds(5);
};

struct HttpResponse {
  int status_code = 0;
  std::string body;
  std::string content_type;  // as sent; unreliable for WeChat
  // All response headers of the final response, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  // New connections opened for this request (0 when one was reused).
  int new_connections = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Performs a GET. See the contract above for errors and thread safety.
  virtual absl::StatusOr<HttpResponse> Get(const HttpRequest& request) = 0;
};

// Marks a transport error as having happened before the request was sent.
absl::Status MarkRequestNotSent(absl::Status status);
// True when `status` was marked by MarkRequestNotSent().
bool RequestNotSent(const absl::Status& status);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_HTTP_CLIENT_H_
