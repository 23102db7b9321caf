// HealthService: grpc.health.v1.Health, implemented from health.proto with
// the callback API (DESIGN §3: gRPC's built-in health service is invisible
// to server reflection, so grpcurl and `buf curl` could not call it).
//
// Serving status per service name: "" (the whole server),
// "wxvault.v1.TokenVault" and "wxvault.v1.VaultAdmin". All start NOT_SERVING;
// the server calls SetServing(true) once the vault is open and
// Shutdown() when it stops (NOT_SERVING from then on, Watch streams end).
//   Check: the status; NOT_FOUND for an unknown service name.
//   Watch: the status now, then every change; SERVICE_UNKNOWN for an unknown
//          name (and later changes, per the protocol). The stream ends with
//          UNAVAILABLE at shutdown.
// Both answer on the gRPC callback thread: they only read memory.
//
// Thread safety: all methods are thread-safe. The service must outlive the
// servers it is registered with.
#ifndef WXVAULT_SERVICE_HEALTH_SERVICE_H_
#define WXVAULT_SERVICE_HEALTH_SERVICE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace wxvault::service {

class HealthWatchReactor;

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // `services`: names reported besides "" (all NOT_SERVING at first).
  explicit HealthService(const std::vector<std::string>& services);

  // Every known service becomes SERVING (true) or NOT_SERVING (false).
  // Ignored after Shutdown().
  void SetServing(bool serving);
  // NOT_SERVING for good; open Watch streams get it and then end.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  friend class HealthWatchReactor;
  // The status of `service` (SERVICE_UNKNOWN for unknown names).
  ServingStatus StatusLocked(const std::string& service) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unsubscribe(HealthWatchReactor* watcher);

  mutable absl::Mutex mu_;
  std::map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::set<HealthWatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_HEALTH_SERVICE_H_
