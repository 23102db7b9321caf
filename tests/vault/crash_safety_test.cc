// Crash safety: a child process (crash_writer) commits records and
// acknowledges each on stdout; the parent SIGKILLs it at a random moment,
// reopens the vault and checks that every acknowledged write is intact and
// opens. Repeated for many iterations on the same vault, so earlier
// acknowledgements must survive later crashes too.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/vault/crash_records.h"
#include "vault/key_check.h"
#include "vault/keyring.h"
#include "vault/record_sealing.h"

extern char** environ;

namespace wxvault::vault {
namespace {

constexpr int kIterations = 24;

struct ChildRun {
  std::set<uint64_t> acknowledged;
  bool killed_by_sigkill = false;
  int exit_code = -1;
};

// Runs crash_writer, reads acknowledgements until `kill_after` has passed
// (counted from the first acknowledgement when `after_first_ack`, so the kill
// lands among writes even on a slow machine; from the start otherwise, so
// it can also land during open), SIGKILLs it, then drains what it wrote
// before dying.
ChildRun RunAndKill(const std::string& data_dir, const std::string& keyring_file, uint64_t first_index,
                    std::chrono::milliseconds kill_after, bool after_first_ack) {
  ChildRun run;
  int fds[2];
  if (pipe(fds) != 0) return run;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const std::string first = absl::StrCat(first_index);
  std::string program = WXVAULT_CRASH_WRITER_PATH;
  char* argv[] = {program.data(), const_cast<char*>(data_dir.c_str()), const_cast<char*>(keyring_file.c_str()),
                  const_cast<char*>(first.c_str()), nullptr};
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    return run;
  }
  std::string buffer;
  char chunk[4096];
  // Waiting for a first acknowledgement is bounded too.
  auto deadline = std::chrono::steady_clock::now() + (after_first_ack ? std::chrono::seconds(30) : kill_after);
  bool armed = !after_first_ack;
  bool killed = false;
  for (;;) {
    int timeout_ms = -1;
    if (!killed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        kill(pid, SIGKILL);
        killed = true;
      } else {
        timeout_ms = static_cast<int>(left.count());
      }
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) == 0) continue;  // time to kill
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) break;  // EOF: the child is gone
    buffer.append(chunk, static_cast<size_t>(n));
    if (!armed && buffer.find('\n') != std::string::npos) {
      armed = true;
      deadline = std::chrono::steady_clock::now() + kill_after;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.killed_by_sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  // Only complete lines are acknowledgements.
  const size_t complete = buffer.rfind('\n');
  if (complete == std::string::npos) return run;
  for (absl::string_view line : absl::StrSplit(absl::string_view(buffer).substr(0, complete), '\n')) {
    uint64_t index = 0;
    if (absl::SimpleAtoi(line, &index)) run.acknowledged.insert(index);
  }
  return run;
}

TEST(CrashSafetyTest, EveryAcknowledgedWriteSurvivesSigkill) {
  wxvault::testing::TempDir dir;
  const std::string keyring_file = dir.Sub("master.keys");
  {
    std::ofstream out(keyring_file);
    out << Keyring::GenerateKeyLine("crash-key") << "\n";
  }
  chmod(keyring_file.c_str(), 0600);
  auto keyring = Keyring::LoadFile(keyring_file, nullptr);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  Sealer sealer(keyring->get());
  const std::string data_dir = dir.Sub("vault");

  const unsigned seed = static_cast<unsigned>(std::random_device{}());
  SCOPED_TRACE(absl::StrCat("random seed ", seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kill_ms(20, 250);
  std::uniform_int_distribution<int> after_ack_ms(0, 100);

  std::set<uint64_t> acknowledged;
  int runs_with_acks = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    SCOPED_TRACE(absl::StrCat("iteration ", iteration));
    // Odd iterations kill at a random moment after the first write; even
    // ones at a random moment from start, which may fall during open.
    const bool after_first_ack = iteration % 2 == 1;
    ChildRun run = RunAndKill(data_dir, keyring_file, static_cast<uint64_t>(iteration) * 1'000'000,
                              std::chrono::milliseconds(after_first_ack ? after_ack_ms(rng) : kill_ms(rng)),
                              after_first_ack);
    ASSERT_TRUE(run.killed_by_sigkill) << "crash_writer exited on its own with code " << run.exit_code;
    if (!run.acknowledged.empty()) ++runs_with_acks;
    acknowledged.insert(run.acknowledged.begin(), run.acknowledged.end());

    RocksTokenStoreOptions options;
    options.path = data_dir;
    auto store = OpenVerifiedVault(options, sealer);
    ASSERT_TRUE(store.ok()) << store.status();
    for (uint64_t index : acknowledged) {
      auto record = (*store)->GetToken(wxvault::testing::CrashKey(index));
      ASSERT_TRUE(record.ok()) << "acknowledged record " << index << " lost: " << record.status();
      auto secrets = OpenSecrets(sealer, *record);
      ASSERT_TRUE(secrets.ok()) << "record " << index << ": " << secrets.status();
      EXPECT_EQ(secrets->access_token(), wxvault::testing::CrashAccessToken(index));
      EXPECT_EQ(secrets->refresh_token(), wxvault::testing::CrashRefreshToken(index));
      EXPECT_EQ(record->next_due_at_ms(), wxvault::testing::CrashDueAt(index));
    }
    // Every acknowledged record's schedule entry and CREATED event are there too.
    auto due = (*store)->ReadDue(/*now_ms=*/INT64_MAX / 2, /*limit=*/10'000'000);
    ASSERT_TRUE(due.ok());
    EXPECT_GE(due->size(), acknowledged.size());
    auto stats = (*store)->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(static_cast<size_t>(stats->total_tokens), due->size());
    EXPECT_GE(stats->last_event_sequence, acknowledged.size());
  }
  EXPECT_GE(runs_with_acks, kIterations / 2) << "the child rarely got to write before being killed";
  EXPECT_GE(acknowledged.size(), static_cast<size_t>(kIterations / 2));
  std::printf("crash safety: %zu acknowledged writes over %d kills, all intact\n", acknowledged.size(),
              kIterations);
}

}  // namespace
}  // namespace wxvault::vault
