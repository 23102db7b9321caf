#include "service/refresher.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/log.h"

namespace wxvault::service {
namespace {

constexpr size_t kBacklogCap = 10'000;
constexpr size_t kHousekeepingBatch = 1000;
// After a pass that made no progress (every token hit a storage error),
// wait at least this long so a broken disk does not spin the CPU.
constexpr absl::Duration kErrorPause = absl::Seconds(1);

}  // namespace

absl::Status RefresherOptions::Validate() const {
  if (workers < 1 || workers > 256) return absl::InvalidArgumentError("refresher workers must be 1..256");
  if (batch_size < 1) return absl::InvalidArgumentError("refresher batch_size must be >= 1");
  if (max_sleep <= absl::ZeroDuration()) return absl::InvalidArgumentError("refresher max_sleep must be > 0");
  if (event_retention <= absl::ZeroDuration()) return absl::InvalidArgumentError("--event_retention must be > 0");
  if (work_deadline <= absl::ZeroDuration()) return absl::InvalidArgumentError("refresher work_deadline must be > 0");
  return absl::OkStatus();
}

Refresher::Refresher(TokenService* tokens, vault::TokenStore* store, Clock* clock, RefresherOptions options)
    : tokens_(tokens), store_(store), clock_(clock), options_(std::move(options)) {}

Refresher::~Refresher() { Stop(); }

void Refresher::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Refresher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_requested_ = true;
  if (thread_.joinable()) thread_.join();
}

void Refresher::Wake(int64_t due_at_ms) {
  absl::MutexLock lock(&mu_);
  if (sleep_target_ms_ == 0 || due_at_ms < sleep_target_ms_) woken_ = true;
}

void Refresher::Loop() {
  for (;;) {
    absl::StatusOr<size_t> processed = RunOnce();
    const int64_t now_ms = clock_->NowMillis();
    int64_t target_ms = now_ms + absl::ToInt64Milliseconds(options_.max_sleep);
    absl::StatusOr<std::optional<int64_t>> next = store_->NextDueAt();
    if (next.ok() && next->has_value()) target_ms = std::min(target_ms, **next);
    if (!processed.ok() || !next.ok()) {
      target_ms = std::max(target_ms, now_ms + absl::ToInt64Milliseconds(kErrorPause));
    }
    absl::MutexLock lock(&mu_);
    sleep_target_ms_ = target_ms;
    // Sleep in real time for the clock-time distance to the target.
    const absl::Duration wait = absl::Milliseconds(target_ms - clock_->NowMillis());
    auto should_wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || woken_; };
    if (wait > absl::ZeroDuration()) mu_.AwaitWithTimeout(absl::Condition(&should_wake), wait);
    woken_ = false;
    sleep_target_ms_ = 0;
    if (stopping_) return;
  }
}

absl::StatusOr<size_t> Refresher::RunOnce() {
  absl::MutexLock pass_lock(&pass_mu_);
  const int64_t pass_now_ms = clock_->NowMillis();
  Pass pass;
  size_t threads = static_cast<size_t>(options_.workers);
  {
    absl::MutexLock lock(&pass.mu);
    if (stop_requested_) {
      pass.exhausted = true;
    } else {
      Refill(pass);
    }
    // When the first read was the last one (everything due fit, or nothing
    // was due), no more workers than it has tokens.
    if (pass.exhausted) threads = std::min(threads, pass.queue.size());
  }
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back([this, &pass] { Work(pass); });
  Work(pass);  // the calling thread is one of the workers
  for (std::thread& t : pool) t.join();

  absl::MutexLock lock(&pass.mu);
  if (!pass.read_error.ok()) return pass.read_error;
  Housekeeping(pass_now_ms);
  {
    absl::MutexLock stats_lock(&mu_);
    ++passes_;
    last_pass_at_ms_ = pass_now_ms;
  }
  if (pass.errors > 0 && pass.errors == pass.processed) {
    return absl::UnavailableError("refresher pass made no progress");
  }
  return pass.processed;
}

void Refresher::Refill(Pass& pass) {
  // A batch that made no progress (every token finished since the last read
  // hit an error that left it due) ends the pass; the loop retries after a
  // pause.
  if (pass.failed_since_read > 0 && pass.ok_since_read == 0) {
    pass.exhausted = true;
    return;
  }
  pass.ok_since_read = 0;
  pass.failed_since_read = 0;
  // Tokens in flight and those that failed are still due and come back first;
  // read past them so a full batch of new entries fits.
  const size_t limit = options_.batch_size + pass.in_flight + pass.errors;
  absl::StatusOr<std::vector<vault::DueEntry>> due = store_->ReadDue(clock_->NowMillis(), limit);
  if (!due.ok()) {
    WXV_LOG(ERROR) << "refresher: cannot read the schedule: " << due.status();
    pass.read_error = due.status();
    pass.exhausted = true;
    absl::MutexLock lock(&mu_);
    ++errors_;
    return;
  }
  // Each token at most once per pass: an entry in flight, or left due by an
  // error or a lost race, is not handed out again (it waits for the next
  // pass instead of spinning this one).
  for (vault::DueEntry& entry : *due) {
    if (pass.seen.insert(entry.key).second) pass.queue.push_back(std::move(entry.key));
  }
  // Nothing new, or the read returned everything due: this is the last batch.
  if (pass.queue.empty() || due->size() < limit) pass.exhausted = true;
}

void Refresher::Work(Pass& pass) {
  for (;;) {
    vault::TokenKey key;
    {
      absl::MutexLock lock(&pass.mu);
      if (pass.queue.empty() && !pass.exhausted && !stop_requested_) Refill(pass);
      if (pass.queue.empty() || stop_requested_) return;
      key = std::move(pass.queue.front());
      pass.queue.pop_front();
      ++pass.in_flight;
    }
    ++in_flight_;
    absl::StatusOr<ScheduledOutcome> outcome = tokens_->ProcessScheduled(key, clock_->Now() + options_.work_deadline);
    --in_flight_;
    if (!outcome.ok()) {
      WXV_LOG(WARNING) << "refresher: token of app " << key.app_id << ": " << outcome.status();
    }
    {
      absl::MutexLock lock(&mu_);
      if (outcome.ok()) {
        ++outcomes_[*outcome];
      } else {
        ++errors_;
      }
    }
    absl::MutexLock lock(&pass.mu);
    --pass.in_flight;
    ++pass.processed;
    if (outcome.ok()) {
      ++pass.ok_since_read;
    } else {
      ++pass.errors;
      ++pass.failed_since_read;
    }
  }
}

void Refresher::Housekeeping(int64_t now_ms) {
  absl::StatusOr<size_t> purged = store_->PurgeExpiredExchanges(now_ms, kHousekeepingBatch);
  if (!purged.ok()) WXV_LOG(WARNING) << "refresher: purging exchange entries: " << purged.status();
  absl::StatusOr<size_t> trimmed =
      store_->TrimEvents(now_ms - absl::ToInt64Milliseconds(options_.event_retention), kHousekeepingBatch);
  if (!trimmed.ok()) WXV_LOG(WARNING) << "refresher: trimming events: " << trimmed.status();
}

RefresherStatus Refresher::Status() const {
  RefresherStatus status;
  const int64_t now_ms = clock_->NowMillis();
  absl::StatusOr<std::vector<vault::DueEntry>> due = store_->ReadDue(now_ms, kBacklogCap);
  if (due.ok()) {
    status.backlog = static_cast<int64_t>(due->size());
    if (!due->empty()) status.oldest_overdue_at_ms = due->front().due_at_ms;
  }
  absl::StatusOr<std::optional<int64_t>> next = store_->NextDueAt();
  if (next.ok()) status.next_due_at_ms = *next;
  status.in_flight = in_flight_.load();
  absl::MutexLock lock(&mu_);
  status.passes = passes_;
  status.last_pass_at_ms = last_pass_at_ms_;
  status.outcomes = outcomes_;
  status.errors = errors_;
  return status;
}

}  // namespace wxvault::service
