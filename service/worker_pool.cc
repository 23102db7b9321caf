#include "service/worker_pool.h"

#include <algorithm>
#include <utility>

#include "service/error_reason.h"

namespace wxvault::service {

WorkerPool::WorkerPool(WorkerPoolOptions options) : max_queued_(std::max<size_t>(options.max_queued, 1)) {
  const int threads = std::clamp(options.threads, 1, 256);
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

absl::Status WorkerPool::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return MakeError(absl::StatusCode::kUnavailable, "the server is shutting down", "STORAGE_UNAVAILABLE");
  }
  if (queue_.size() >= max_queued_) {
    return MakeError(absl::StatusCode::kResourceExhausted, "the server is overloaded (work queue full); retry shortly",
                     "SERVER_BUSY");
  }
  queue_.push_back(std::move(task));
  return absl::OkStatus();
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void WorkerPool::Shutdown() {
  absl::MutexLock join_lock(&join_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

size_t WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace wxvault::service
