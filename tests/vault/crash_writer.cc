// crash_writer: the child half of the crash-safety test.
//
// Usage: crash_writer <data_dir> <keyring_file> <first_index>
//
// Opens the vault and commits token records from four threads as fast as it
// can (so group commit is exercised), each with a CREATED event and secrets
// derived from its index. After each Commit returns OK it writes "<index>\n"
// to stdout with one write(2): a line on stdout is an acknowledgement. The
// parent SIGKILLs this process at a random moment and then checks that every
// acknowledged record is intact and opens.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/vault/crash_records.h"
#include "vault/key_check.h"
#include "vault/keyring.h"
#include "vault/sealer.h"

int main(int argc, char** argv) {
  using namespace wxvault::vault;  // NOLINT: a small test driver
  uint64_t first = 0;
  if (argc != 4 || !absl::SimpleAtoi(argv[3], &first)) {
    std::fprintf(stderr, "usage: crash_writer <data_dir> <keyring_file> <first_index>\n");
    return 2;
  }
  auto keyring = Keyring::LoadFile(argv[2], nullptr);
  if (!keyring.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", keyring.status().ToString().c_str());
    return 2;
  }
  Sealer sealer(keyring->get());
  RocksTokenStoreOptions options;
  options.path = argv[1];
  auto store = OpenVerifiedVault(options, sealer);
  if (!store.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", store.status().ToString().c_str());
    return 2;
  }
  std::atomic<uint64_t> next{first};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const uint64_t index = next.fetch_add(1);
        auto write = wxvault::testing::MakeCrashWrite(sealer, index);
        if (!write.ok() || !(*store)->Commit(*write).ok()) {
          std::fprintf(stderr, "crash_writer: commit %llu failed\n", static_cast<unsigned long long>(index));
          std::_Exit(3);
        }
        const std::string line = absl::StrCat(index, "\n");
        // One write(2) of less than PIPE_BUF bytes: lines never interleave.
        if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          std::_Exit(4);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return 0;
}
