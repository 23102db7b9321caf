#include "vault/rocks_token_store.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "vault/rocks_support.h"
#include "vault/store_keys.h"

namespace wxvault::vault {
namespace {

namespace keys = store_keys;

constexpr char kFormatMetaName[] = "vault_format";
constexpr char kFormatVersion[] = "1";
constexpr size_t kMaxPageSize = 1000;


// Reads and parses one protobuf value. NOT_FOUND when absent.
template <typename Message>
absl::StatusOr<Message> ReadMessage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                    absl::string_view key, absl::string_view what) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, ToSlice(key), &value);
  if (!s.ok()) return FromRocks(s, absl::StrCat("read ", what));
  Message message;
  if (!message.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("stored ", what, " does not parse"));
  }
  return message;
}

// Like ReadMessage, but absence is an empty optional rather than an error.
template <typename Message>
absl::StatusOr<std::optional<Message>> ReadOptionalMessage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                           absl::string_view key, absl::string_view what) {
  absl::StatusOr<Message> message = ReadMessage<Message>(db, cf, key, what);
  if (absl::IsNotFound(message.status())) return std::optional<Message>();
  if (!message.ok()) return message.status();
  return std::optional<Message>(*std::move(message));
}

std::string Serialize(const google::protobuf::MessageLite& message) {
  std::string out;
  message.SerializeToString(&out);
  return out;
}

// An iterator over the keys of `cf` that start with a big-endian time <=
// now_ms (the schedule and exchange-expiry families), positioned at the
// first. It owns its upper bound, so it reads only what is due.
class DueIterator {
 public:
  DueIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, int64_t now_ms) {
    keys::AppendBigEndian64(static_cast<uint64_t>(now_ms) + 1, &upper_);
    bound_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &bound_;
    it_.reset(db->NewIterator(read_options, cf));
    it_->SeekToFirst();
  }
  DueIterator(const DueIterator&) = delete;
  DueIterator& operator=(const DueIterator&) = delete;
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  std::string upper_;
  rocksdb::Slice bound_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

absl::Status ValidateWrite(const TokenWrite& write) {
  if (absl::Status s = keys::ValidateTokenKey(write.key); !s.ok()) return s;
  if (write.put.has_value() && write.erase) {
    return absl::InvalidArgumentError("a write cannot both put and erase a token");
  }
  if (write.profile.has_value() && write.erase_profile) {
    return absl::InvalidArgumentError("a write cannot both put and erase a profile");
  }
  if (write.exchange.has_value() != !write.exchange_digest.empty()) {
    return absl::InvalidArgumentError("exchange entry and digest must be given together");
  }
  if (write.put.has_value()) {
    const TokenRecord& r = *write.put;
    if (r.app_id() != write.key.app_id || r.openid() != write.key.openid) {
      return absl::InvalidArgumentError("record identity does not match the write's key");
    }
    if (r.state() == RECORD_STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError("record state must be set");
    }
    if (!r.sealed_secrets().empty() && r.key_id().empty()) {
      return absl::InvalidArgumentError("sealed secrets need their key_id");
    }
    if (r.next_due_at_ms() < 0) return absl::InvalidArgumentError("next_due_at_ms is negative");
  }
  if (write.profile.has_value() && !write.profile->sealed_profile().empty() &&
      write.profile->key_id().empty()) {
    return absl::InvalidArgumentError("a sealed profile needs its key_id");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RocksTokenStoreOptions::Validate() const {
  if (path.empty()) return absl::InvalidArgumentError("store path is empty");
  if (block_cache_bytes < (1u << 20)) return absl::InvalidArgumentError("block_cache_bytes < 1 MiB");
  if (write_buffer_bytes < (1u << 20)) return absl::InvalidArgumentError("write_buffer_bytes < 1 MiB");
  if (total_write_buffer_bytes < write_buffer_bytes) {
    return absl::InvalidArgumentError("total_write_buffer_bytes < write_buffer_bytes");
  }
  if (max_background_jobs < 1) return absl::InvalidArgumentError("max_background_jobs < 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RocksTokenStore>> RocksTokenStore::Open(const RocksTokenStoreOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  rocksdb::DBOptions db_options = MakeDbOptions(options);
  std::vector<rocksdb::ColumnFamilyDescriptor> families = MakeFamilyDescriptors(options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(options.path) / "CURRENT", ec)) {
      return absl::NotFoundError(absl::StrCat("no vault at ", options.path));
    }
    // A process killed during the very first open can leave a database with
    // only some families. Nothing can have been committed to it (the store
    // is usable only once every family exists), so it counts as absent; a
    // read-write open completes it.
    std::vector<std::string> existing;
    s = rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing);
    if (!s.ok()) return FromRocks(s, absl::StrCat("list column families at ", options.path));
    for (const std::string& name : FamilyNames()) {
      if (std::find(existing.begin(), existing.end(), name) == existing.end()) {
        return absl::NotFoundError(absl::StrCat("vault at ", options.path, " was never fully created"));
      }
    }
    s = rocksdb::DB::OpenForReadOnly(db_options, options.path, families, &handles, &raw_db);
  } else {
    s = rocksdb::DB::Open(db_options, options.path, families, &handles, &raw_db);
  }
  if (!s.ok()) {
    if (s.IsInvalidArgument() && !options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no vault at ", options.path, ": ", s.ToString()));
    }
    return FromRocks(s, absl::StrCat("open vault at ", options.path));
  }
  std::unique_ptr<RocksTokenStore> store(
      new RocksTokenStore(options, std::unique_ptr<rocksdb::DB>(raw_db), std::move(handles)));
  if (absl::Status init = store->InitAfterOpen(); !init.ok()) return init;
  return store;
}

RocksTokenStore::RocksTokenStore(RocksTokenStoreOptions options, std::unique_ptr<rocksdb::DB> db,
                                 std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(std::move(options)), db_(std::move(db)), handles_(std::move(handles)) {
  cf_.meta = handles_[0];
  cf_.tokens = handles_[1];
  cf_.schedule = handles_[2];
  cf_.exchanges = handles_[3];
  cf_.exchange_expiry = handles_[4];
  cf_.profiles = handles_[5];
  cf_.events = handles_[6];
  cf_.key_index = handles_[7];
  cf_.counters = handles_[8];
}

RocksTokenStore::~RocksTokenStore() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  db_->Close().PermitUncheckedError();
}

absl::Status RocksTokenStore::InitAfterOpen() {
  absl::StatusOr<std::string> format = GetMeta(kFormatMetaName);
  if (format.ok() && *format != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("vault format '", *format, "' is not supported (this build reads '", kFormatVersion, "')"));
  }
  if (absl::IsNotFound(format.status()) && !options_.read_only) {
    if (absl::Status s = PutMeta(kFormatMetaName, kFormatVersion); !s.ok()) return s;
  } else if (!format.ok() && !absl::IsNotFound(format.status())) {
    return format.status();
  }
  // Resume event numbering after the newest event (TrimEvents never removes
  // the newest, so sequences are never reused).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.events));
  it->SeekToLast();
  if (!it->status().ok()) return FromRocks(it->status(), "read event log");
  absl::MutexLock lock(&event_mu_);
  next_event_sequence_ = it->Valid() ? keys::ReadBigEndian64(ToView(it->key())) + 1 : 1;
  return absl::OkStatus();
}

absl::Status RocksTokenStore::CheckWritable() const {
  if (options_.read_only) return absl::FailedPreconditionError("vault opened read-only");
  return absl::OkStatus();
}

rocksdb::WriteOptions RocksTokenStore::DurableWrite() const {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  return write_options;
}

absl::Mutex& RocksTokenStore::StripeFor(absl::string_view token_key_bytes) {
  return stripes_[absl::Hash<absl::string_view>()(token_key_bytes) % kLockStripes];
}

absl::StatusOr<TokenRecord> RocksTokenStore::GetToken(const TokenKey& key) {
  if (absl::Status s = keys::ValidateTokenKey(key); !s.ok()) return s;
  return ReadMessage<TokenRecord>(db_.get(), cf_.tokens, keys::TokenKeyBytes(key), "token");
}

absl::StatusOr<CommitResult> RocksTokenStore::Commit(const TokenWrite& write) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateWrite(write); !s.ok()) return s;
  const std::string token_key = keys::TokenKeyBytes(write.key);
  absl::ReleasableMutexLock stripe_lock(&StripeFor(token_key));
  rocksdb::WriteBatch batch;
  absl::StatusOr<CommitResult> result = BuildBatch(write, &batch);
  if (!result.ok()) return result.status();

  if (!write.events.empty()) {
    absl::MutexLock lock(&event_mu_);
    for (const EventRecord& event : write.events) {
      EventRecord numbered = event;
      numbered.set_sequence(next_event_sequence_++);
      events_in_flight_.insert(numbered.sequence());
      result->event_sequences.push_back(numbered.sequence());
      rocksdb::Status s = batch.Put(cf_.events, keys::EventKey(numbered.sequence()), Serialize(numbered));
      if (!s.ok()) return FromRocks(s, "build event batch");
    }
  }
  rocksdb::Status s = db_->Write(DurableWrite(), &batch);
  std::shared_ptr<const std::function<void(uint64_t)>> listener;
  uint64_t readable = 0;
  if (!result->event_sequences.empty()) {
    // Success or failure, these sequences are settled: a failed write leaves
    // a gap that readers skip.
    absl::MutexLock lock(&event_mu_);
    for (uint64_t sequence : result->event_sequences) events_in_flight_.erase(sequence);
    listener = event_listener_;
    readable = ReadableEventWatermark();
  }
  NotifyCommitListener(write.key);
  stripe_lock.Release();
  if (!s.ok()) return FromRocks(s, "commit token write");
  if (listener != nullptr && *listener) (*listener)(readable);
  return result;
}

absl::StatusOr<CommitResult> RocksTokenStore::BuildBatch(const TokenWrite& write, rocksdb::WriteBatch* batch) {
  const std::string token_key = keys::TokenKeyBytes(write.key);
  absl::StatusOr<std::optional<TokenRecord>> old =
      ReadOptionalMessage<TokenRecord>(db_.get(), cf_.tokens, token_key, "token");
  if (!old.ok()) return old.status();
  const uint64_t old_generation = old->has_value() ? (*old)->generation() : 0;
  if (write.expected_generation.has_value() && *write.expected_generation != old_generation) {
    return absl::AbortedError(absl::StrCat("token changed concurrently: expected generation ",
                                           *write.expected_generation, ", found ", old_generation));
  }
  CommitResult result;
  result.generation = old_generation;
  std::optional<TokenRecord> updated;
  if (write.put.has_value()) {
    updated = *write.put;
    updated->set_generation(old_generation + 1);
    result.generation = updated->generation();
  }
  const bool changes_record = write.put.has_value() || (write.erase && old->has_value());
  if (changes_record) {
    const TokenRecord* before = old->has_value() ? &**old : nullptr;
    const TokenRecord* after = updated.has_value() ? &*updated : nullptr;
    std::vector<rocksdb::Status> statuses;
    if (before != nullptr) {
      statuses.push_back(batch->Merge(cf_.counters, keys::StateCounterName(before->state()), EncodeCounter(-1)));
    }
    if (after != nullptr) {
      statuses.push_back(batch->Merge(cf_.counters, keys::StateCounterName(after->state()), EncodeCounter(1)));
    }
    // Schedule index: one entry at next_due_at_ms, moved with the record.
    const int64_t before_due = before ? before->next_due_at_ms() : 0;
    const int64_t after_due = after ? after->next_due_at_ms() : 0;
    if (before_due != 0 && before_due != after_due) {
      statuses.push_back(batch->Delete(cf_.schedule, keys::ScheduleKey(before_due, write.key)));
    }
    if (after_due != 0 && before_due != after_due) {
      statuses.push_back(batch->Put(cf_.schedule, keys::ScheduleKey(after_due, write.key), ""));
    }
    // Key index: which key seals this record's secrets.
    const std::string before_key = before ? before->key_id() : "";
    const std::string after_key = after ? after->key_id() : "";
    AddKeyIndexChange(before_key, after_key, SealedKind::kTokenSecrets, write.key, batch, &statuses);
    statuses.push_back(after ? batch->Put(cf_.tokens, token_key, Serialize(*after))
                             : batch->Delete(cf_.tokens, token_key));
    for (const rocksdb::Status& s : statuses) {
      if (!s.ok()) return FromRocks(s, "build token batch");
    }
    if (!after) result.generation = 0;
  }
  if (absl::Status s = AddProfileChanges(write, batch); !s.ok()) return s;
  if (write.exchange.has_value()) {
    rocksdb::Status s = batch->Put(cf_.exchanges, ToSlice(write.exchange_digest), Serialize(*write.exchange));
    if (s.ok()) {
      s = batch->Put(cf_.exchange_expiry,
                     keys::ExchangeExpiryKey(write.exchange->expires_at_ms(), write.exchange_digest), "");
    }
    if (!s.ok()) return FromRocks(s, "build exchange batch");
  }
  return result;
}

void RocksTokenStore::AddKeyIndexChange(const std::string& before_key, const std::string& after_key,
                                        SealedKind kind, const TokenKey& key, rocksdb::WriteBatch* batch,
                                        std::vector<rocksdb::Status>* statuses) {
  if (before_key == after_key) return;
  if (!before_key.empty()) {
    statuses->push_back(batch->Delete(cf_.key_index, keys::KeyIndexKey(before_key, kind, key)));
    statuses->push_back(batch->Merge(cf_.counters, keys::KeyCounterName(before_key), EncodeCounter(-1)));
  }
  if (!after_key.empty()) {
    statuses->push_back(batch->Put(cf_.key_index, keys::KeyIndexKey(after_key, kind, key), ""));
    statuses->push_back(batch->Merge(cf_.counters, keys::KeyCounterName(after_key), EncodeCounter(1)));
  }
}

absl::Status RocksTokenStore::AddProfileChanges(const TokenWrite& write, rocksdb::WriteBatch* batch) {
  const bool removes = write.erase_profile || write.erase;
  if (!write.profile.has_value() && !removes) return absl::OkStatus();
  const std::string token_key = keys::TokenKeyBytes(write.key);
  absl::StatusOr<std::optional<ProfileEntry>> old =
      ReadOptionalMessage<ProfileEntry>(db_.get(), cf_.profiles, token_key, "profile");
  if (!old.ok()) return old.status();
  const std::string before_key = old->has_value() ? (*old)->key_id() : "";
  const std::string after_key = write.profile.has_value() ? write.profile->key_id() : "";
  std::vector<rocksdb::Status> statuses;
  AddKeyIndexChange(before_key, after_key, SealedKind::kProfile, write.key, batch, &statuses);
  statuses.push_back(write.profile.has_value() ? batch->Put(cf_.profiles, token_key, Serialize(*write.profile))
                                               : batch->Delete(cf_.profiles, token_key));
  for (const rocksdb::Status& s : statuses) {
    if (!s.ok()) return FromRocks(s, "build profile batch");
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenPage> RocksTokenStore::ListTokens(const ListTokensOptions& options) {
  if (options.page_size == 0 || options.page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size must be 1..", kMaxPageSize));
  }
  std::string start;
  std::string upper;
  if (!options.app_id.empty()) {
    start = absl::StrCat(options.app_id, absl::string_view("\0", 1));
    upper = absl::StrCat(options.app_id, "\x01");
  }
  std::optional<std::string> resume_after;
  if (!options.page_token.empty()) {
    std::optional<TokenKey> last = keys::DecodePageToken(options.page_token);
    if (!last.has_value() || (!options.app_id.empty() && last->app_id != options.app_id)) {
      return absl::InvalidArgumentError("page_token is not valid for this listing");
    }
    resume_after = keys::TokenKeyBytes(*last);
    start = *resume_after;
  }
  rocksdb::ReadOptions read_options;
  rocksdb::Slice upper_slice(upper);
  if (!upper.empty()) read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_.tokens));
  TokenPage page;
  size_t examined = 0;
  std::string last_key;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (resume_after.has_value() && ToView(it->key()) == *resume_after) continue;
    if (page.records.size() == options.page_size || examined == options.max_examined) {
      std::optional<TokenKey> last = keys::ParseTokenKeyBytes(last_key);
      if (last.has_value()) page.next_page_token = keys::EncodePageToken(*last);
      break;
    }
    ++examined;
    last_key.assign(it->key().data(), it->key().size());
    TokenRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("stored token does not parse");
    }
    if (options.state != RECORD_STATE_UNSPECIFIED && record.state() != options.state) continue;
    page.records.push_back(std::move(record));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list tokens");
  return page;
}

absl::StatusOr<std::vector<DueEntry>> RocksTokenStore::ReadDue(int64_t now_ms, size_t limit) {
  std::vector<DueEntry> due;
  if (now_ms < 0 || limit == 0) return due;
  DueIterator it(db_.get(), cf_.schedule, now_ms);
  for (; it->Valid() && due.size() < limit; it->Next()) {
    schedule_entries_examined_.fetch_add(1, std::memory_order_relaxed);
    std::optional<DueEntry> entry = keys::ParseScheduleKey(ToView(it->key()));
    if (!entry.has_value()) return absl::DataLossError("malformed schedule entry");
    due.push_back(*std::move(entry));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read schedule");
  return due;
}

absl::StatusOr<std::optional<int64_t>> RocksTokenStore::NextDueAt() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.schedule));
  it->SeekToFirst();
  if (!it->status().ok()) return FromRocks(it->status(), "read schedule");
  if (!it->Valid()) return std::optional<int64_t>();
  std::optional<DueEntry> entry = keys::ParseScheduleKey(ToView(it->key()));
  if (!entry.has_value()) return absl::DataLossError("malformed schedule entry");
  return std::optional<int64_t>(entry->due_at_ms);
}

absl::StatusOr<ExchangeEntry> RocksTokenStore::GetExchange(absl::string_view digest, int64_t now_ms) {
  if (digest.empty()) return absl::InvalidArgumentError("exchange digest is empty");
  absl::StatusOr<ExchangeEntry> entry = ReadMessage<ExchangeEntry>(db_.get(), cf_.exchanges, digest, "exchange");
  if (entry.ok() && entry->expires_at_ms() <= now_ms) return absl::NotFoundError("exchange entry expired");
  return entry;
}

absl::StatusOr<size_t> RocksTokenStore::PurgeExpiredExchanges(int64_t now_ms, size_t limit) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (now_ms < 0 || limit == 0) return 0;
  DueIterator it(db_.get(), cf_.exchange_expiry, now_ms);
  rocksdb::WriteBatch batch;
  size_t purged = 0;
  for (; it->Valid() && purged < limit; it->Next()) {
    absl::string_view key = ToView(it->key());
    if (key.size() <= 8) return absl::DataLossError("malformed exchange expiry entry");
    absl::string_view digest = key.substr(8);
    rocksdb::Status s = batch.Delete(cf_.exchange_expiry, it->key());
    // The digest may have been re-used with a later expiry: delete the entry
    // only if it has really expired.
    absl::StatusOr<ExchangeEntry> entry = ReadMessage<ExchangeEntry>(db_.get(), cf_.exchanges, digest, "exchange");
    if (entry.ok() && entry->expires_at_ms() <= now_ms && s.ok()) s = batch.Delete(cf_.exchanges, ToSlice(digest));
    if (!s.ok()) return FromRocks(s, "build purge batch");
    if (!entry.ok() && !absl::IsNotFound(entry.status())) return entry.status();
    ++purged;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read exchange expiry");
  if (purged == 0) return 0;
  if (rocksdb::Status s = db_->Write(DurableWrite(), &batch); !s.ok()) return FromRocks(s, "purge exchanges");
  return purged;
}

absl::StatusOr<ProfileEntry> RocksTokenStore::GetProfile(const TokenKey& key) {
  if (absl::Status s = keys::ValidateTokenKey(key); !s.ok()) return s;
  return ReadMessage<ProfileEntry>(db_.get(), cf_.profiles, keys::TokenKeyBytes(key), "profile");
}

void RocksTokenStore::SetEventListener(std::function<void(uint64_t readable_sequence)> listener) {
  auto shared = std::make_shared<const std::function<void(uint64_t)>>(std::move(listener));
  absl::MutexLock lock(&event_mu_);
  event_listener_ = std::move(shared);
}

void RocksTokenStore::SetCommitListener(std::function<void(const TokenKey& key)> listener) {
  auto shared = std::make_shared<const std::function<void(const TokenKey&)>>(std::move(listener));
  absl::MutexLock lock(&commit_listener_mu_);
  commit_listener_ = std::move(shared);
}

void RocksTokenStore::NotifyCommitListener(const TokenKey& key) const {
  std::shared_ptr<const std::function<void(const TokenKey&)>> listener;
  {
    absl::MutexLock lock(&commit_listener_mu_);
    listener = commit_listener_;
  }
  if (listener != nullptr && *listener) (*listener)(key);
}

uint64_t RocksTokenStore::ReadableEventWatermark() const {
  if (events_in_flight_.empty()) return next_event_sequence_ - 1;
  return *events_in_flight_.begin() - 1;
}

absl::StatusOr<std::vector<EventRecord>> RocksTokenStore::ReadEvents(uint64_t after_sequence, size_t limit) {
  uint64_t watermark;
  {
    absl::MutexLock lock(&event_mu_);
    watermark = ReadableEventWatermark();
  }
  std::vector<EventRecord> events;
  if (after_sequence >= watermark || limit == 0) return events;
  const std::string upper = keys::EventKey(watermark + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_.events));
  for (it->Seek(keys::EventKey(after_sequence + 1)); it->Valid() && events.size() < limit; it->Next()) {
    EventRecord event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("stored event does not parse");
    }
    events.push_back(std::move(event));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read events");
  return events;
}

absl::StatusOr<size_t> RocksTokenStore::TrimEvents(int64_t before_ms, size_t limit) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.events));
  it->SeekToLast();
  if (!it->Valid()) {
    if (!it->status().ok()) return FromRocks(it->status(), "read events");
    return 0;
  }
  const std::string newest(it->key().data(), it->key().size());
  rocksdb::WriteBatch batch;
  size_t trimmed = 0;
  for (it->SeekToFirst(); it->Valid() && trimmed < limit && ToView(it->key()) != newest; it->Next()) {
    EventRecord event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("stored event does not parse");
    }
    if (event.at_ms() >= before_ms) break;
    if (rocksdb::Status s = batch.Delete(cf_.events, it->key()); !s.ok()) return FromRocks(s, "trim events");
    ++trimmed;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read events");
  if (trimmed == 0) return 0;
  if (rocksdb::Status s = db_->Write(DurableWrite(), &batch); !s.ok()) return FromRocks(s, "trim events");
  return trimmed;
}

absl::StatusOr<std::vector<std::string>> RocksTokenStore::KeyIdsInUse() {
  std::vector<std::string> ids;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.key_index));
  for (it->SeekToFirst(); it->Valid();) {
    absl::string_view key = ToView(it->key());
    size_t sep = key.find('\0');
    if (sep == absl::string_view::npos) return absl::DataLossError("malformed key index entry");
    ids.emplace_back(key.substr(0, sep));
    it->Seek(absl::StrCat(ids.back(), "\x01"));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read key index");
  return ids;
}

absl::StatusOr<std::vector<SealedRef>> RocksTokenStore::ListSealedByKey(absl::string_view key_id,
                                                                        const std::optional<SealedRef>& after,
                                                                        size_t limit) {
  if (key_id.empty()) return absl::InvalidArgumentError("key id is empty");
  const std::string upper = absl::StrCat(key_id, "\x01");
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_.key_index));
  std::string resume_after;
  if (after.has_value()) {
    resume_after = keys::KeyIndexKey(key_id, after->kind, after->key);
    it->Seek(resume_after);
  } else {
    it->Seek(keys::KeyIndexPrefix(key_id));
  }
  std::vector<SealedRef> refs;
  for (; it->Valid() && refs.size() < limit; it->Next()) {
    if (!resume_after.empty() && ToView(it->key()) == resume_after) continue;
    auto parsed = keys::ParseKeyIndexKey(ToView(it->key()));
    if (!parsed.has_value()) return absl::DataLossError("malformed key index entry");
    refs.push_back(std::move(parsed->second));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read key index");
  return refs;
}

}  // namespace wxvault::vault
