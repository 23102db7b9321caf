#include "service/worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "service/error_reason.h"

namespace wxvault::service {
namespace {

TEST(WorkerPoolTest, RunsTasksAndDrainsOnShutdown) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(WorkerPoolOptions{2, 100});
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Submit([&] { ran++; }).ok());
    pool.Shutdown();
    EXPECT_EQ(ran.load(), 50);
    absl::Status refused = pool.Submit([] {});
    EXPECT_TRUE(absl::IsUnavailable(refused));
  }
}

TEST(WorkerPoolTest, AFullQueueIsServerBusy) {
  WorkerPool pool(WorkerPoolOptions{1, 2});
  absl::Notification release;
  absl::Notification started;
  ASSERT_TRUE(pool.Submit([&] {
                    started.Notify();
                    release.WaitForNotification();
                  })
                  .ok());
  started.WaitForNotification();
  ASSERT_TRUE(pool.Submit([] {}).ok());
  ASSERT_TRUE(pool.Submit([] {}).ok());
  EXPECT_EQ(pool.queued(), 2u);
  absl::Status busy = pool.Submit([] {});
  EXPECT_TRUE(absl::IsResourceExhausted(busy));
  EXPECT_EQ(ReasonOf(busy), "SERVER_BUSY");
  release.Notify();
}

TEST(WorkerPoolTest, TasksMaySubmitTasks) {
  WorkerPool pool(WorkerPoolOptions{2, 10});
  absl::Notification done;
  ASSERT_TRUE(pool.Submit([&] { ASSERT_TRUE(pool.Submit([&] { done.Notify(); }).ok()); }).ok());
  done.WaitForNotification();
}

}  // namespace
}  // namespace wxvault::service
