// WxvaultServer: wxvaultd assembled from its parts, from start-up to
// graceful shutdown. main() only parses flags, handles signals and prints.
//
// Start-up (Start), in order; the first failure stops it with one line
// naming the flag (or key id) at fault, and nothing half-started stays up:
//   health listener (--health_listen, NOT_SERVING) -> demo environment
//   (--demo) -> keyring (--master_key_file; permission warnings logged) ->
//   vault (OpenVerifiedVault: a wrong or missing key refuses start-up and
//   names the key id, without touching the data) -> apps (--app_id /
//   --apps_file) -> WeChat client (libcurl, --upstream_qps limiter,
//   --wechat_api_base) -> TokenService -> worker pool, event notifier ->
//   gRPC server on --listen (TokenVault, VaultAdmin, Health, reflection;
//   64 KiB max request; TLS/mTLS when configured) -> Prometheus /metrics on
//   --metrics_listen (when set) -> SERVING.
//
// Shutdown: health NOT_SERVING and WatchEvents/Watch streams end; the gRPC
// server stops accepting and in-flight calls get until --shutdown_grace
// (then they are cancelled); the worker pool drains; the refresher and the
// /metrics server stop; the vault closes.
//
// Thread safety: Start and Shutdown are called from main's thread; the
// accessors are const and safe from any thread.
#ifndef WXVAULT_SERVICE_SERVER_H_
#define WXVAULT_SERVICE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/config.h"

namespace wxvault::service {

class WxvaultServer {
 public:
  // Errors: INVALID_ARGUMENT / FAILED_PRECONDITION / UNAVAILABLE with a
  // one-line message starting with the flag at fault, e.g.
  // "--master_key_file: key 'k1' in the keyring does not open this vault's ...".
  static absl::StatusOr<std::unique_ptr<WxvaultServer>> Start(const ServerConfig& config);

  // Shuts down if Shutdown() was not called.
  ~WxvaultServer();
  WxvaultServer(const WxvaultServer&) = delete;
  WxvaultServer& operator=(const WxvaultServer&) = delete;

  // Where the gRPC server listens, e.g. "127.0.0.1:50051" (the real port
  // when --listen asked for port 0) or "unix:/run/wxvault.sock".
  const std::string& address() const;
  // Where the health-only listener listens; empty when there is none.
  const std::string& health_address() const;
  // The --demo banner; empty unless --demo.
  const std::string& demo_banner() const;
  // "http://127.0.0.1:9464/metrics" (the real port when --metrics_listen
  // asked for port 0); empty without --metrics_listen.
  std::string metrics_url() const;

  // Graceful shutdown (see the file comment). Idempotent.
  void Shutdown();

 private:
  struct Parts;
  explicit WxvaultServer(std::unique_ptr<Parts> parts);
  absl::Status Build(const ServerConfig& config);
  std::unique_ptr<Parts> parts_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_SERVER_H_
