// WorkerPool: a fixed set of threads that run the server's blocking work
// (synced RocksDB writes, calls to WeChat) so that gRPC's callback threads
// never block (DESIGN §8).
//
// The queue in front of the threads is bounded: when it is full, Submit()
// refuses the task at once with RESOURCE_EXHAUSTED / SERVER_BUSY instead of
// letting latency grow without bound, and the handler answers the client
// with that error (a short backoff and a retry is the right reaction).
//
// Shutdown() stops accepting, runs every task already queued to completion
// and joins the threads: a gRPC reactor whose task was accepted always gets
// its Finish() call.
//
// Thread safety: Submit() may be called from any thread, including from a
// task. Shutdown() may be called from any thread but a worker; it is
// idempotent, and the destructor calls it.
#ifndef WXVAULT_SERVICE_WORKER_POOL_H_
#define WXVAULT_SERVICE_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace wxvault::service {

struct WorkerPoolOptions {
  // Worker threads (--worker_threads). 1..256.
  int threads = 8;
  // Tasks waiting for a thread, at most. Past it Submit() refuses. >= 1.
  size_t max_queued = 1024;
};

class WorkerPool {
 public:
  // Starts options.threads threads. Out-of-range options are clamped.
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. Errors (the task is dropped, never run):
  //   RESOURCE_EXHAUSTED / SERVER_BUSY      the queue is full
  //   UNAVAILABLE / STORAGE_UNAVAILABLE     the pool is shutting down
  // A task must not throw.
  absl::Status Submit(std::function<void()> task);

  // Stops accepting, drains the queue, joins the threads.
  void Shutdown();

  // Tasks queued and not yet started (for status pages and tests).
  size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  absl::Mutex join_mu_;  // serializes Shutdown()
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_WORKER_POOL_H_
