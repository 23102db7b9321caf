#include "service/health_service.h"

#include <utility>

namespace wxvault::service {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream. Its callbacks from HealthService run under the
// service's lock; gRPC never runs a write reactor's OnDone inline in
// StartWrite/Finish, and OnDone unsubscribes under that lock before the
// reactor is deleted, so the service never sees a deleted watcher.
class HealthWatchReactor final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  HealthWatchReactor(HealthService* service, std::string name) : service_(service), name_(std::move(name)) {}

  // Called by the service, under its lock.
  void Update(HealthService::ServingStatus status, bool end) {
    absl::MutexLock lock(&mu_);
    latest_ = status;
    if (end) end_ = true;
    StepLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) cancelled_ = true;
    StepLocked();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    StepLocked();
  }
  void OnDone() override {
    service_->Unsubscribe(this);
    delete this;
  }

 private:
  // Sends the latest status if it was not sent yet, or finishes. Finish and
  // StartWrite never run OnDone or OnWriteDone inline (write reactors).
  void StepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (cancelled_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
    } else if (!sent_ || latest_ != sent_status_) {
      sent_ = true;
      sent_status_ = latest_;
      message_.set_status(latest_);
      writing_ = true;
      StartWrite(&message_);
    } else if (end_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    }
  }

  HealthService* const service_;
  const std::string name_;
  absl::Mutex mu_;
  HealthService::ServingStatus latest_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  HealthService::ServingStatus sent_status_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool sent_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool end_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  HealthCheckResponse message_;

  friend class HealthService;
};

HealthService::HealthService(const std::vector<std::string>& services) {
  absl::MutexLock lock(&mu_);
  statuses_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& name : services) statuses_[name] = HealthCheckResponse::NOT_SERVING;
}

HealthService::ServingStatus HealthService::StatusLocked(const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, status] : statuses_) {
    status = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  for (HealthWatchReactor* watcher : watchers_) watcher->Update(StatusLocked(watcher->name_), false);
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  for (HealthWatchReactor* watcher : watchers_) watcher->Update(StatusLocked(watcher->name_), true);
}

void HealthService::Unsubscribe(HealthWatchReactor* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx, const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ServingStatus status;
  {
    absl::MutexLock lock(&mu_);
    status = StatusLocked(request->service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(grpc::CallbackServerContext* ctx,
                                                                    const HealthCheckRequest* request) {
  auto* watcher = new HealthWatchReactor(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  watcher->Update(StatusLocked(request->service()), shut_down_);
  return watcher;
}

}  // namespace wxvault::service
