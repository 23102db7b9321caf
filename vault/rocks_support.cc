#include "vault/rocks_support.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"
#include "vault/rocks_token_store.h"

namespace wxvault::vault {
namespace {

class CounterMergeOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing_value,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    int64_t base = existing_value == nullptr
                       ? 0
                       : DecodeCounter(absl::string_view(existing_value->data(), existing_value->size()));
    int64_t delta = DecodeCounter(absl::string_view(value.data(), value.size()));
    *new_value = EncodeCounter(base + delta);
    return true;
  }
  const char* Name() const override { return "wxvault.CounterAdd"; }
};

// Options shared by every family: a shared block cache, LZ4 on upper levels,
// ZSTD at the bottom (secrets are random and barely compress; the protobuf
// framing and identifiers do).
rocksdb::ColumnFamilyOptions BaseFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                               size_t write_buffer_bytes, bool bloom) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = write_buffer_bytes;
  cf.max_write_buffer_number = 3;
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  cf.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  // Partitioned index and filters: with a million tokens a single index
  // block of a compacted file is ~1 MB, larger than a cache shard, so every
  // random read would re-read and decompress it. Partitions are small and
  // cache well; only their top level is pinned.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = bloom;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  if (bloom) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

}  // namespace

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(context, ": ", status.ToString());
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kIOError:
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
      return absl::UnavailableError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

const std::vector<std::string>& FamilyNames() {
  static const auto* const names = new std::vector<std::string>{
      rocksdb::kDefaultColumnFamilyName, "tokens",  "schedule",  "exchanges", "exchange_expiry",
      "profiles",                        "events",  "key_index", "counters"};
  return *names;
}

rocksdb::DBOptions MakeDbOptions(const RocksTokenStoreOptions& options) {
  rocksdb::DBOptions db;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = true;
  db.max_background_jobs = options.max_background_jobs;
  db.db_write_buffer_size = options.total_write_buffer_bytes;
  db.max_total_wal_size = options.max_total_wal_bytes;
  db.keep_log_file_num = 4;
  db.max_log_file_size = 8u << 20;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.recycle_log_file_num = 0;
  return db;
}

std::vector<rocksdb::ColumnFamilyDescriptor> MakeFamilyDescriptors(const RocksTokenStoreOptions& options) {
  // Few shards: the cache is small (default 32 MiB) and 64 default shards
  // would leave each too small for large index or filter partitions.
  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options.block_cache_bytes, /*num_shard_bits=*/2, /*strict_capacity_limit=*/false,
                           /*high_pri_pool_ratio=*/0.5);
  const size_t small_buffer = std::max<size_t>(options.write_buffer_bytes / 4, 1u << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (const std::string& name : FamilyNames()) {
    const bool point_lookups = name == "tokens" || name == "exchanges" || name == "profiles";
    rocksdb::ColumnFamilyOptions cf =
        BaseFamilyOptions(cache, name == "tokens" ? options.write_buffer_bytes : small_buffer, point_lookups);
    if (name == "schedule" || name == "exchange_expiry") {
      // These are queues: entries are read from the front and deleted. Files
      // full of tombstones are compacted away early so reading the front
      // stays O(due).
      cf.table_properties_collector_factories.push_back(
          rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/128,
                                                        /*deletion_trigger=*/64));
    }
    if (name == "counters") cf.merge_operator = NewCounterMergeOperator();
    out.emplace_back(name, cf);
  }
  return out;
}

std::string EncodeCounter(int64_t value) {
  std::string out(8, '\0');
  uint64_t bits = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}

int64_t DecodeCounter(absl::string_view bytes) {
  if (bytes.size() != 8) return 0;
  uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(bytes[i]);
  return static_cast<int64_t>(bits);
}

std::shared_ptr<rocksdb::MergeOperator> NewCounterMergeOperator() {
  return std::make_shared<CounterMergeOperator>();
}

}  // namespace wxvault::vault
