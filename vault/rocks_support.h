// Small pieces RocksTokenStore needs from RocksDB, kept out of the store's
// own file: the one place rocksdb::Status becomes absl::Status, the counter
// merge operator, and the tuned options of each column family.
//
// Thread safety: pure functions; the merge operator is stateless.
#ifndef WXVAULT_VAULT_ROCKS_SUPPORT_H_
#define WXVAULT_VAULT_ROCKS_SUPPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"

namespace wxvault::vault {

struct RocksTokenStoreOptions;

// Views between absl::string_view and rocksdb::Slice (no copies).
inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// Maps a RocksDB status to the absl code a caller should act on:
// NotFound → NOT_FOUND, Corruption → DATA_LOSS, IOError/Busy/TimedOut/
// TryAgain → UNAVAILABLE, InvalidArgument → INVALID_ARGUMENT, everything else
// → INTERNAL. `context` says what was being done ("read token").
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view context);

// Column family names, in the order RocksTokenStore opens them. The first is
// RocksDB's default family, used for metadata.
const std::vector<std::string>& FamilyNames();

// DB-wide options and one ColumnFamilyOptions per FamilyNames() entry.
rocksdb::DBOptions MakeDbOptions(const RocksTokenStoreOptions& options);
std::vector<rocksdb::ColumnFamilyDescriptor> MakeFamilyDescriptors(const RocksTokenStoreOptions& options);

// Counters: values are 8-byte little-endian signed integers; a merge operand
// is a delta in the same encoding.
std::string EncodeCounter(int64_t value);
int64_t DecodeCounter(absl::string_view bytes);  // 0 for malformed input
std::shared_ptr<rocksdb::MergeOperator> NewCounterMergeOperator();

}  // namespace wxvault::vault

#endif  // WXVAULT_VAULT_ROCKS_SUPPORT_H_
