// WatchEventsReactor: one TokenVault.WatchEvents stream (callback API).
//
// Streams the vault's durable event log: every retained event after the
// client's `after_sequence`, in sequence order, filtered by app_id (empty:
// every app), then new events as they are committed. It never blocks a gRPC
// callback thread: log reads run on the WorkerPool, one batch at a time, and
// the next batch is read only when the previous one has been written to the
// client. A slow client therefore holds at most one batch in memory and never
// slows the writers (they only bump the EventNotifier's high-water mark).
//
// The stream ends when the client cancels, on a read error, or when the
// server shuts down (UNAVAILABLE; the client resumes from the last sequence
// it processed). A resume point beyond the newest event, or older than the
// retained log, answers OUT_OF_RANGE / SEQUENCE_OUT_OF_RANGE.
//
// Every stream is an RpcCall: it gets a request id (trailer `x-request-id`,
// and the log fields of its worker tasks) and is counted in
// wxvault_rpc_total when it ends (no latency histogram for streams).
//
// Ownership: created with `new` by the handler and returned to gRPC; it
// deletes itself in OnDone. The dependencies must outlive every stream (the
// server shuts down before they are destroyed).
//
// Thread safety: all members are guarded by mu_; gRPC callbacks, worker tasks
// and notifier callbacks may run concurrently.
#ifndef WXVAULT_SERVICE_WATCH_EVENTS_H_
#define WXVAULT_SERVICE_WATCH_EVENTS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "service/event_notifier.h"
#include "service/rpc_call.h"
#include "service/worker_pool.h"
#include "vault/token_store.h"

namespace wxvault::service {

class WatchEventsReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public EventSubscriber {
 public:
  struct Deps {
    vault::TokenStore* store = nullptr;
    EventNotifier* notifier = nullptr;
    WorkerPool* pool = nullptr;
    RpcMetrics* metrics = nullptr;  // may be null
  };
  // Events read from the log per batch.
  static constexpr size_t kBatchSize = 256;

  // Starts the stream. `error`, when not OK, finishes it at once (request
  // validation failed in the handler).
  WatchEventsReactor(grpc::CallbackServerContext* ctx, const Deps& deps, std::string app_id,
                     uint64_t after_sequence, const absl::Status& error);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void OnEventsReadable(uint64_t readable_sequence) override;
  void OnShutdown() override;

 private:
  ~WatchEventsReactor() override = default;

  // What to do next, decided under mu_ and done after releasing it.
  struct Action {
    enum Kind { kNothing, kWrite, kFinish } kind = kNothing;
    absl::Status status;  // for kFinish
  };
  // Picks the next write, batch read (queued here) or Finish, whichever is
  // due, and records it as started.
  Action NextActionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Carries out `action`; must be the caller's last use of `this`.
  void Run(const Action& action);
  // NextActionLocked + Run. Call without mu_ held.
  void Advance();
  // Queues `body` on the pool followed by Advance(). False if refused.
  bool SubmitLocked(std::function<void()> body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the next batch (worker thread).
  void ReadBatch();
  // Checks after_sequence against the retained log (worker thread).
  absl::Status CheckResumePoint();
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Deps deps_;
  RpcCall call_;
  const std::string app_id_;

  absl::Mutex mu_;
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);  // last sequence read from the log
  uint64_t readable_ ABSL_GUARDED_BY(mu_) = 0;
  bool checked_ ABSL_GUARDED_BY(mu_) = false;   // resume point validated
  bool more_ ABSL_GUARDED_BY(mu_) = true;       // last batch was full
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool task_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish() called
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> finish_ ABSL_GUARDED_BY(mu_);
  std::deque<grpc::ByteBuffer> pending_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer current_;  // the message being written; owned by the write
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_WATCH_EVENTS_H_
