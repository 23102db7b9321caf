#include "service/watch_events.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/grpc_status.h"
#include "service/proto_convert.h"
#include "service/unary_call.h"
#include "wxvault/v1/types.pb.h"

namespace wxvault::service {

WatchEventsReactor::WatchEventsReactor(grpc::CallbackServerContext* ctx, const Deps& deps, std::string app_id,
                                       uint64_t after_sequence, const absl::Status& error)
    : deps_(deps),
      call_(ctx, "/wxvault.v1.TokenVault/WatchEvents", deps.metrics, /*unary=*/false),
      app_id_(std::move(app_id)),
      cursor_(after_sequence) {
  // Lock order: the notifier's lock, then mu_. Never call the notifier with
  // mu_ held.
  const bool subscribed = error.ok() && deps_.notifier->Subscribe(this);
  const uint64_t readable = deps_.notifier->readable_sequence();
  {
    absl::MutexLock lock(&mu_);
    subscribed_ = subscribed;
    readable_ = std::max(readable_, readable);
    if (!error.ok()) {
      finish_ = error;
    } else if (!subscribed) {
      finish_ = MakeError(absl::StatusCode::kUnavailable, "the server is shutting down", "STORAGE_UNAVAILABLE");
    }
  }
  Advance();
}

bool WatchEventsReactor::IdleLocked() const { return !finished_ && !writing_ && !task_pending_; }

bool WatchEventsReactor::SubmitLocked(std::function<void()> body) {
  task_pending_ = true;
  absl::Status queued = deps_.pool->Submit([this, body = std::move(body)] {
    ScopedLogFields scope(call_.log_fields());
    body();
    Action action;
    {
      absl::MutexLock lock(&mu_);
      task_pending_ = false;
      action = NextActionLocked();
    }
    Run(action);  // last use of `this` by this task
  });
  if (!queued.ok()) task_pending_ = false;
  return queued.ok();
}

WatchEventsReactor::Action WatchEventsReactor::NextActionLocked() {
  Action action;
  if (!IdleLocked()) return action;
  if (finish_.has_value()) {
    finished_ = true;
    action.kind = Action::kFinish;
    action.status = *finish_;
  } else if (!pending_.empty()) {
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    action.kind = Action::kWrite;
  } else if (!checked_ || more_ || readable_ > cursor_) {
    if (!SubmitLocked([this] { ReadBatch(); })) {
      finished_ = true;
      action.kind = Action::kFinish;
      action.status = MakeError(absl::StatusCode::kResourceExhausted,
                                "the server is overloaded; resume WatchEvents shortly", "SERVER_BUSY");
    }
  }
  return action;
}

void WatchEventsReactor::Run(const Action& action) {
  if (action.kind == Action::kWrite) {
    StartWrite(&current_);
  } else if (action.kind == Action::kFinish) {
    Finish(call_.Finish(action.status));
  }
}

void WatchEventsReactor::Advance() {
  Action action;
  {
    absl::MutexLock lock(&mu_);
    action = NextActionLocked();
  }
  Run(action);
}

absl::Status WatchEventsReactor::CheckResumePoint() {
  absl::StatusOr<vault::StoreStats> stats = deps_.store->Stats();
  if (!stats.ok()) return WithReason(stats.status(), "STORAGE_UNAVAILABLE");
  const uint64_t announced = deps_.notifier->readable_sequence();
  absl::MutexLock lock(&mu_);
  const uint64_t newest = std::max({stats->last_event_sequence, readable_, announced});
  if (cursor_ > newest) {
    return MakeError(absl::StatusCode::kOutOfRange,
                     absl::StrCat("after_sequence ", cursor_, " is beyond the newest event (", newest, ")"),
                     "SEQUENCE_OUT_OF_RANGE");
  }
  if (cursor_ != 0 && stats->first_event_sequence > 1 && cursor_ + 1 < stats->first_event_sequence) {
    return MakeError(absl::StatusCode::kOutOfRange,
                     absl::StrCat("events after ", cursor_, " were dropped by retention (oldest retained: ",
                                  stats->first_event_sequence, "); resynchronise and watch from 0"),
                     "SEQUENCE_OUT_OF_RANGE");
  }
  return absl::OkStatus();
}

void WatchEventsReactor::ReadBatch() {
  bool check_needed;
  uint64_t after;
  {
    absl::MutexLock lock(&mu_);
    check_needed = !checked_;
    checked_ = true;
    after = cursor_;
  }
  if (check_needed) {
    if (absl::Status s = CheckResumePoint(); !s.ok()) {
      absl::MutexLock lock(&mu_);
      finish_ = s;
      return;
    }
  }
  absl::StatusOr<std::vector<vault::EventRecord>> events = deps_.store->ReadEvents(after, kBatchSize);
  absl::MutexLock lock(&mu_);
  if (!events.ok()) {
    finish_ = WithReason(events.status(), "STORAGE_UNAVAILABLE");
    return;
  }
  more_ = events->size() == kBatchSize;
  wxvault::v1::TokenEvent event;
  for (const vault::EventRecord& record : *events) {
    cursor_ = std::max(cursor_, record.sequence());
    if (!app_id_.empty() && record.app_id() != app_id_) continue;
    ToTokenEvent(record, &event);
    grpc::ByteBuffer buffer;
    if (absl::Status s = SerializeRawResponse(event, &buffer); !s.ok()) {
      finish_ = s;
      return;
    }
    pending_.push_back(std::move(buffer));
  }
}

void WatchEventsReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok && !finish_.has_value()) finish_ = absl::CancelledError("the client went away");
  }
  Advance();
}

void WatchEventsReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    if (!finish_.has_value()) finish_ = absl::CancelledError("cancelled by the client");
  }
  Advance();
}

void WatchEventsReactor::OnEventsReadable(uint64_t readable_sequence) {
  // Runs under the notifier's lock: never Finish or write from here (OnDone
  // unsubscribes under that lock); only schedule a read.
  absl::MutexLock lock(&mu_);
  readable_ = std::max(readable_, readable_sequence);
  if (IdleLocked() && !finish_.has_value() && pending_.empty() && readable_ > cursor_) {
    SubmitLocked([] {});
  }
}

void WatchEventsReactor::OnShutdown() {
  absl::MutexLock lock(&mu_);
  if (!finish_.has_value()) {
    finish_ = MakeError(absl::StatusCode::kUnavailable,
                        "the server is shutting down; resume from the last sequence processed",
                        "STORAGE_UNAVAILABLE");
  }
  if (IdleLocked()) SubmitLocked([] {});
}

void WatchEventsReactor::OnDone() {
  bool subscribed;
  {
    absl::MutexLock lock(&mu_);
    subscribed = subscribed_;
  }
  if (subscribed) deps_.notifier->Unsubscribe(this);
  delete this;
}

}  // namespace wxvault::service
