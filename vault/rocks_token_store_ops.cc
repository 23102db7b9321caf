// RocksTokenStore, second file: metadata and operations (meta values,
// statistics, compaction, backups). The write path and the indexes live in
// rocks_token_store.cc.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"
#include "vault/rocks_support.h"
#include "vault/rocks_token_store.h"
#include "vault/store_keys.h"

namespace wxvault::vault {
namespace {
namespace keys = store_keys;
}  // namespace

absl::StatusOr<std::string> RocksTokenStore::GetMeta(absl::string_view name) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_.meta, ToSlice(name), &value);
  if (!s.ok()) return FromRocks(s, absl::StrCat("read meta ", name));
  return value;
}

absl::StatusOr<std::map<std::string, std::string>> RocksTokenStore::ListMeta(absl::string_view prefix) {
  std::map<std::string, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.meta));
  for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
    out.emplace(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list meta");
  return out;
}

absl::Status RocksTokenStore::PutMeta(absl::string_view name, absl::string_view value) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  return FromRocks(db_->Put(DurableWrite(), cf_.meta, ToSlice(name), ToSlice(value)), "write meta");
}

absl::Status RocksTokenStore::DeleteMeta(absl::string_view name) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  return FromRocks(db_->Delete(DurableWrite(), cf_.meta, ToSlice(name)), "delete meta");
}

absl::StatusOr<StoreStats> RocksTokenStore::Stats() {
  StoreStats stats;
  for (int state = RecordState_MIN; state <= RecordState_MAX; ++state) {
    if (!RecordState_IsValid(state) || state == RECORD_STATE_UNSPECIFIED) continue;
    std::string value;
    const auto record_state = static_cast<RecordState>(state);
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf_.counters, keys::StateCounterName(record_state), &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read counters");
    const int64_t count = s.ok() ? DecodeCounter(value) : 0;
    stats.tokens_by_state[record_state] = count;
    stats.total_tokens += count;
  }
  const std::string key_prefix = keys::KeyCounterName("");
  std::unique_ptr<rocksdb::Iterator> counters(db_->NewIterator(rocksdb::ReadOptions(), cf_.counters));
  for (counters->Seek(key_prefix); counters->Valid() && counters->key().starts_with(key_prefix); counters->Next()) {
    const int64_t count = DecodeCounter(ToView(counters->value()));
    if (count != 0) stats.sealed_by_key[counters->key().ToString().substr(key_prefix.size())] = count;
  }
  if (!counters->status().ok()) return FromRocks(counters->status(), "read counters");
  std::unique_ptr<rocksdb::Iterator> events(db_->NewIterator(rocksdb::ReadOptions(), cf_.events));
  events->SeekToFirst();
  if (events->Valid()) stats.first_event_sequence = keys::ReadBigEndian64(ToView(events->key()));
  events->SeekToLast();
  if (events->Valid()) stats.last_event_sequence = keys::ReadBigEndian64(ToView(events->key()));
  if (!events->status().ok()) return FromRocks(events->status(), "read events");
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t sst = 0, mem = 0;
    db_->GetIntProperty(handle, "rocksdb.live-sst-files-size", &sst);
    db_->GetIntProperty(handle, "rocksdb.cur-size-all-mem-tables", &mem);
    stats.data_size_bytes += sst + mem;
  }
  stats.schedule_entries_examined = schedule_entries_examined_.load(std::memory_order_relaxed);
  return stats;
}

absl::Status RocksTokenStore::Compact() {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    rocksdb::Status s = db_->CompactRange(compact_options, handle, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, absl::StrCat("compact ", handle->GetName()));
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupInfo> RocksTokenStore::CreateBackup(const std::string& directory) {
  namespace fs = std::filesystem;
  if (directory.empty()) return absl::InvalidArgumentError("backup directory is empty");
  std::error_code ec;
  if (fs::exists(directory, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("backup directory ", directory, " already exists"));
  }
  rocksdb::Checkpoint* raw_checkpoint = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw_checkpoint);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw_checkpoint);
  if (s.ok()) s = checkpoint->CreateCheckpoint(directory, /*log_size_for_flush=*/0);
  if (!s.ok()) return FromRocks(s, absl::StrCat("create backup in ", directory));
  BackupInfo info;
  info.directory = directory;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, ec)) {
    if (entry.is_regular_file(ec)) info.size_bytes += entry.file_size(ec);
  }
  absl::MutexLock lock(&event_mu_);
  info.last_event_sequence = ReadableEventWatermark();
  return info;
}

}  // namespace wxvault::vault
