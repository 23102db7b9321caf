// CurlHttpClient: the production HttpClient, built on libcurl's easy API.
//
// What it guarantees (beyond the HttpClient contract):
//   * curl_global_init() runs once per process, on the first Create().
//   * Connection reuse: finished easy handles go back to a pool and keep
//     their live connections, so a burst opens at most one connection per
//     concurrent caller and later calls reuse them. DNS answers and TLS
//     sessions are shared across handles (a curl share object).
//   * CURLOPT_NOSIGNAL, a connect timeout and a total timeout on every call;
//     TLS peer and host verification always on, against the system CA bundle
//     unless `ca_file` names another; no redirects; http and https only.
//   * Responses larger than `max_response_bytes` (1 MiB) fail with
//     UNAVAILABLE/UPSTREAM_UNAVAILABLE instead of growing without bound.
//   * HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment are honoured
//     (libcurl's default; nothing here overrides them).
//   * Transport errors are mapped to absl::Status in one function
//     (StatusFromCurl in the .cc); messages name only scheme, host and path.
//
// Thread safety: Get() may be called from any number of threads. Each call
// blocks its thread for at most the request's timeout. Destroy the client
// only after every Get() has returned.
#ifndef WXVAULT_SERVICE_CURL_HTTP_CLIENT_H_
#define WXVAULT_SERVICE_CURL_HTTP_CLIENT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/http_client.h"

namespace wxvault::service {

struct CurlHttpClientOptions {
  // Upper bound for TCP connect + TLS handshake (also capped by the request's
  // own timeout).
  absl::Duration connect_timeout = absl::Seconds(3);
  // Larger response bodies are an error.
  size_t max_response_bytes = 1 << 20;
  // PEM bundle of trusted CAs; empty: libcurl's system default.
  std::string ca_file;
  // Idle handles (and their connections) kept for reuse.
  size_t max_idle_handles = 16;
  std::string user_agent = "wxvault/0.1";

  // INVALID_ARGUMENT naming the bad field, or OK.
  absl::Status Validate() const;
};

class CurlHttpClient final : public HttpClient {
 public:
  // Initializes libcurl (once per process) and builds a client.
  // Errors: INVALID_ARGUMENT for bad options; INTERNAL when libcurl cannot
  // be initialized.
  static absl::StatusOr<std::unique_ptr<CurlHttpClient>> Create(
      CurlHttpClientOptions options = CurlHttpClientOptions());

  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  absl::StatusOr<HttpResponse> Get(const HttpRequest& request) override;

 private:
  struct Impl;
  explicit CurlHttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_CURL_HTTP_CLIENT_H_
