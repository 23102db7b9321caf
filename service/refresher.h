// Refresher: the background worker that keeps tokens alive.
//
// What it is for
//   Without anyone asking, it renews tokens inside the last --renew_before of
//   their refresh window, refreshes access tokens that services keep using
//   (keep-warm), turns tokens whose window has ended into REAUTH_REQUIRED,
//   retries transient failures with backoff, waits out WeChat quota pauses,
//   and purges tombstones past their retention. The per-token rules live in
//   TokenService::ProcessScheduled; this class decides *when* and *how many*.
//
// How it finds work
//   Only through the vault's schedule index: it reads the entries due now,
//   oldest first (TokenStore::ReadDue is O(due), never a scan), a batch at a
//   time, into a queue that `workers` threads drain oldest first; whichever
//   worker finds the queue empty reads the next batch, so one slow WeChat
//   call holds up only its own worker. A token is handed out at most once per
//   pass, so never to two workers at once. The pass ends when the schedule
//   has nothing due that the pass has not already taken, or when every token
//   finished since the last read failed (the rest wait for the next pass,
//   after a pause if the whole pass failed). Then it sleeps until the next
//   due time (TokenStore::NextDueAt), with no coarse polling tick.
//   TokenService wakes it early when it schedules something sooner (Wake).
//   Every upstream call passes the shared --upstream_qps limiter inside
//   WeChatClient; a backlog larger than one batch is worked oldest-due first,
//   and its size is visible in Status().
//
// Housekeeping on each pass: expired Exchange idempotency entries are purged
// and events older than `event_retention` are trimmed (bounded per pass).
//
// Thread safety: all public methods are thread-safe. Start/Stop may each be
// called once; the destructor stops.
#ifndef WXVAULT_SERVICE_REFRESHER_H_
#define WXVAULT_SERVICE_REFRESHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/token_service.h"
#include "vault/clock.h"
#include "vault/token_store.h"

namespace wxvault::service {

struct RefresherOptions {
  // Tokens worked concurrently (each may wait on WeChat). Default 4.
  int workers = 4;
  // Due entries read from the schedule at a time (the queue is refilled
  // whenever a worker finds it empty). Default 256.
  size_t batch_size = 256;
  // Longest sleep between passes (housekeeping runs at least this often).
  // Default 10 min.
  absl::Duration max_sleep = absl::Minutes(10);
  // Events older than this are trimmed (WatchEvents can resume from any
  // retained sequence). Default 7 days.
  absl::Duration event_retention = absl::Hours(24 * 7);
  // Upstream time allowed per token. Default 15 s.
  absl::Duration work_deadline = absl::Seconds(15);

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

struct RefresherStatus {
  // Entries due now (capped at 10,000; 10,000 means "at least").
  int64_t backlog = 0;
  int64_t in_flight = 0;
  std::optional<int64_t> next_due_at_ms;
  std::optional<int64_t> oldest_overdue_at_ms;
  int64_t passes = 0;
  int64_t last_pass_at_ms = 0;
  std::map<ScheduledOutcome, int64_t> outcomes;  // since start
  int64_t errors = 0;                            // storage errors since start
};

class Refresher {
 public:
  // `tokens`, `store` and `clock` are not owned and must outlive this.
  Refresher(TokenService* tokens, vault::TokenStore* store, Clock* clock, RefresherOptions options);
  ~Refresher();
  Refresher(const Refresher&) = delete;
  Refresher& operator=(const Refresher&) = delete;

  // Starts the background thread (each pass starts its worker threads).
  void Start();
  // Stops it: the current pass finishes the tokens it already started
  // (bounded by work_deadline; each writes all or nothing) and no new ones
  // begin. Idempotent.
  void Stop();
  // Something became due at `due_at_ms` (or earlier than expected): wake up
  // if that is before the current sleep target.
  void Wake(int64_t due_at_ms);

  // Works every entry due at clock->Now(), oldest first, with up to
  // `workers` threads (the calling thread is one of them), then housekeeping.
  // Returns the number of tokens processed. Blocks; used by the background
  // thread and by tests that drive time by hand. Passes never overlap: a call
  // made while another pass runs waits for it to end.
  absl::StatusOr<size_t> RunOnce();

  RefresherStatus Status() const;
  // Tokens being worked right now (cheap; Status() also reads the schedule).
  int64_t InFlight() const { return in_flight_.load(); }

 private:
  // The shared state of one pass.
  struct Pass {
    absl::Mutex mu;
    // Keys to hand out, oldest due first.
    std::deque<vault::TokenKey> queue ABSL_GUARDED_BY(mu);
    // Every key queued this pass (in the queue, in flight or done).
    std::set<vault::TokenKey> seen ABSL_GUARDED_BY(mu);
    // No more reads this pass: the queue drains and the workers return.
    bool exhausted ABSL_GUARDED_BY(mu) = false;
    absl::Status read_error ABSL_GUARDED_BY(mu);
    size_t in_flight ABSL_GUARDED_BY(mu) = 0;
    size_t processed ABSL_GUARDED_BY(mu) = 0;
    size_t errors ABSL_GUARDED_BY(mu) = 0;
    // Tokens finished since the last read, by result.
    size_t ok_since_read ABSL_GUARDED_BY(mu) = 0;
    size_t failed_since_read ABSL_GUARDED_BY(mu) = 0;
  };

  void Loop();
  // One worker of `pass`: takes keys from the queue (reading the next batch
  // when it is empty) until the pass is exhausted or stopping.
  void Work(Pass& pass);
  // Reads the next batch of due entries into the empty queue, or marks the
  // pass exhausted.
  void Refill(Pass& pass) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pass.mu);
  void Housekeeping(int64_t now_ms);

  TokenService* const tokens_;
  vault::TokenStore* const store_;
  Clock* const clock_;
  const RefresherOptions options_;

  // Held for a whole RunOnce: passes never overlap.
  absl::Mutex pass_mu_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sleep_target_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t passes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_pass_at_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<ScheduledOutcome, int64_t> outcomes_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> stop_requested_{false};
  std::thread thread_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_REFRESHER_H_
