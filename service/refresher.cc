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
  size_t processed = 0;
  size_t errors = 0;
  const int64_t pass_now_ms = clock_->NowMillis();
  std::set<vault::TokenKey> seen;
  while (!stop_requested_) {
    absl::StatusOr<std::vector<vault::DueEntry>> due = store_->ReadDue(clock_->NowMillis(), options_.batch_size);
    if (!due.ok()) {
      WXV_LOG(ERROR) << "refresher: cannot read the schedule: " << due.status();
      absl::MutexLock lock(&mu_);
      ++errors_;
      return due.status();
    }
    // Each token at most once per pass: an entry left due by a lost race
    // waits for the next pass instead of spinning this one.
    std::vector<vault::DueEntry> fresh;
    for (vault::DueEntry& entry : *due) {
      if (seen.insert(entry.key).second) fresh.push_back(std::move(entry));
    }
    if (fresh.empty()) break;
    auto [done, failed] = WorkBatch(fresh);
    processed += done;
    errors += failed;
    // A batch that made no progress (only errors or lost races that left
    // entries due) ends the pass; the loop retries after a pause.
    if (done == failed || due->size() < options_.batch_size) break;
  }
  Housekeeping(pass_now_ms);
  absl::MutexLock lock(&mu_);
  ++passes_;
  last_pass_at_ms_ = pass_now_ms;
  if (errors > 0 && errors == processed) return absl::UnavailableError("refresher pass made no progress");
  return processed;
}

std::pair<size_t, size_t> Refresher::WorkBatch(const std::vector<vault::DueEntry>& batch) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> errors{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < batch.size() && !stop_requested_; i = next.fetch_add(1)) {
      ++in_flight_;
      absl::StatusOr<ScheduledOutcome> outcome =
          tokens_->ProcessScheduled(batch[i].key, clock_->Now() + options_.work_deadline);
      --in_flight_;
      absl::MutexLock lock(&mu_);
      if (outcome.ok()) {
        ++outcomes_[*outcome];
      } else {
        ++errors;
        ++errors_;
        WXV_LOG(WARNING) << "refresher: token of app " << batch[i].key.app_id << ": " << outcome.status();
      }
    }
  };
  const int threads = std::min<int>(options_.workers, static_cast<int>(batch.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();  // the calling thread is worker 0: oldest entries start first
  for (std::thread& t : pool) t.join();
  return {std::min(next.load(), batch.size()), errors.load()};
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
