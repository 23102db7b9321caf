#include "service/vault_maintenance.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "service/error_reason.h"
#include "service/proto_convert.h"
#include "vault/record_sealing.h"

namespace wxvault::service {
namespace {

namespace fs = std::filesystem;
using vault::SealedKind;
using vault::SealedRef;
using vault::TokenKey;

constexpr size_t kRewrapBatch = 64;
constexpr size_t kMaxFailuresReported = 100;
constexpr absl::string_view kBackupPrefix = "backup-";

// Sets *flag for the lifetime of the guard if it was clear.
class RunningGuard {
 public:
  explicit RunningGuard(std::atomic<bool>* flag) : flag_(flag), held_(!flag->exchange(true)) {}
  ~RunningGuard() {
    if (held_) flag_->store(false);
  }
  bool held() const { return held_; }

 private:
  std::atomic<bool>* flag_;
  const bool held_;
};

absl::Status InProgress(absl::string_view what) {
  return MakeError(absl::StatusCode::kAborted, absl::StrCat(what, " is already running; retry when it has finished"),
                   "OPERATION_IN_PROGRESS");
}

absl::Status BadRequest(absl::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, message, reason::kInvalidArgument);
}

// Where a RewrapAll run stopped: the key being drained and the last payload
// examined under it (none: start of that key).
struct ResumePoint {
  std::string key_id;
  std::optional<SealedRef> after;
};

std::string EncodeResume(const ResumePoint& point) {
  std::vector<std::string> parts = {"v1", point.key_id};
  if (point.after.has_value()) {
    parts.push_back(absl::StrCat(static_cast<int>(point.after->kind)));
    parts.push_back(point.after->key.app_id);
    parts.push_back(point.after->key.openid);
  }
  return absl::WebSafeBase64Escape(absl::StrJoin(parts, std::string(1, '\0')));
}

absl::StatusOr<ResumePoint> DecodeResume(absl::string_view token) {
  std::string raw;
  absl::Status bad = BadRequest("resume_token is not one RewrapAll returned");
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad;
  std::vector<std::string> parts = absl::StrSplit(raw, '\0');
  if (parts.size() != 2 && parts.size() != 5) return bad;
  if (parts[0] != "v1" || !vault::IsValidKeyId(parts[1])) return bad;
  ResumePoint point{parts[1], std::nullopt};
  if (parts.size() == 5) {
    int kind = 0;
    if (!absl::SimpleAtoi(parts[2], &kind) || (kind != 1 && kind != 2)) return bad;
    point.after = SealedRef{static_cast<SealedKind>(kind), TokenKey{parts[3], parts[4]}};
  }
  return point;
}

// Total size of the regular files under `dir`, and of those not shared (by
// hard link) with anything else.
void MeasureBackup(const fs::path& dir, uint64_t* total, uint64_t* unshared) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const uint64_t size = entry.file_size(ec);
    *total += size;
    if (entry.hard_link_count(ec) <= 1) *unshared += size;
  }
}

// Backup ids found in `dir` (subdirectories named backup-<id>), ascending.
std::vector<uint32_t> ListBackupIds(const fs::path& dir) {
  std::vector<uint32_t> ids;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    uint32_t id = 0;
    if (entry.is_directory(ec) && absl::StartsWith(name, kBackupPrefix) &&
        absl::SimpleAtoi(absl::string_view(name).substr(kBackupPrefix.size()), &id)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

absl::Status VaultMaintenance::RewrapAll(const wxvault::v1::RewrapAllRequest& request, absl::Time deadline,
                                         wxvault::v1::RewrapAllResponse* response) {
  if (request.max_records() < 0) return BadRequest("max_records must be >= 0");
  std::optional<ResumePoint> resume;
  if (!request.resume_token().empty()) {
    absl::StatusOr<ResumePoint> decoded = DecodeResume(request.resume_token());
    if (!decoded.ok()) return decoded.status();
    resume = *decoded;
  }
  RunningGuard guard(&rewrap_running_);
  if (!guard.held()) return InProgress("RewrapAll");

  const absl::Time start = deps_.clock->Now();
  const absl::Time stop_at = deadline - std::min(absl::Seconds(1), (deadline - start) / 10);
  const std::string active = deps_.sealer->keyring().active_key_id();
  response->set_active_key_id(active);

  absl::StatusOr<std::vector<std::string>> in_use = deps_.store->KeyIdsInUse();
  if (!in_use.ok()) return VaultFailure(in_use.status());
  std::vector<std::string> keys;
  for (const std::string& id : *in_use) {
    if (id != active && (!resume.has_value() || id >= resume->key_id)) keys.push_back(id);
  }
  std::sort(keys.begin(), keys.end());

  uint64_t scanned = 0;
  std::optional<ResumePoint> stopped_at;
  for (const std::string& key_id : keys) {
    std::optional<SealedRef> after;
    if (resume.has_value() && key_id == resume->key_id) after = resume->after;
    while (!stopped_at.has_value()) {
      absl::StatusOr<std::vector<SealedRef>> refs = deps_.store->ListSealedByKey(key_id, after, kRewrapBatch);
      if (!refs.ok()) return VaultFailure(refs.status());
      if (refs->empty()) break;
      for (const SealedRef& ref : *refs) {
        const bool budget_spent = request.max_records() > 0 && scanned >= static_cast<uint64_t>(request.max_records());
        if (budget_spent || deps_.clock->Now() >= stop_at) {
          stopped_at = ResumePoint{key_id, after};
          break;
        }
        ++scanned;
        std::string error;
        switch (RewrapOne(ref, key_id, request.dry_run(), deadline, &error)) {
          case Outcome::kRewrapped:
            response->set_rewrapped(response->rewrapped() + 1);
            break;
          case Outcome::kCurrent:
            response->set_already_current(response->already_current() + 1);
            break;
          case Outcome::kFailed:
            response->set_failed(response->failed() + 1);
            if (static_cast<size_t>(response->failures_size()) < kMaxFailuresReported) {
              wxvault::v1::RewrapFailure* failure = response->add_failures();
              failure->set_app_id(ref.key.app_id);
              failure->set_openid(ref.key.openid);
              failure->set_record_kind(ref.kind == SealedKind::kProfile ? "profile" : "token");
              failure->set_key_id(key_id);
              failure->set_error(error);
            }
            break;
        }
        after = ref;
      }
    }
    if (stopped_at.has_value()) break;
  }
  response->set_scanned(scanned);
  if (stopped_at.has_value()) response->set_resume_token(EncodeResume(*stopped_at));
  absl::StatusOr<std::vector<std::string>> remaining = deps_.store->KeyIdsInUse();
  if (!remaining.ok()) return VaultFailure(remaining.status());
  for (const std::string& id : *remaining) response->add_key_ids_in_use(id);
  SetDuration(deps_.clock->Now() - start, response->mutable_elapsed());
  return absl::OkStatus();
}

VaultMaintenance::Outcome VaultMaintenance::RewrapOne(const SealedRef& ref, const std::string& old_key,
                                                      bool dry_run, absl::Time deadline, std::string* error) {
  Outcome outcome = Outcome::kFailed;
  absl::Status locked = deps_.tokens->RunExclusive(ref.key, deadline, [&] {
    outcome = ref.kind == SealedKind::kProfile ? RewrapProfile(ref.key, old_key, dry_run, error)
                                               : RewrapSecrets(ref.key, old_key, dry_run, error);
    return absl::OkStatus();
  });
  if (!locked.ok()) {
    *error = std::string(locked.message());
    return Outcome::kFailed;
  }
  return outcome;
}

VaultMaintenance::Outcome VaultMaintenance::RewrapSecrets(const TokenKey& key, const std::string& old_key,
                                                          bool dry_run, std::string* error) {
  // A conditional write that loses a race (a concurrent Exchange or Revoke)
  // is re-read and decided again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<vault::TokenRecord> record = deps_.store->GetToken(key);
    if (absl::IsNotFound(record.status())) return Outcome::kCurrent;
    if (!record.ok()) {
      *error = std::string(record.status().message());
      return Outcome::kFailed;
    }
    if (record->key_id() != old_key || record->sealed_secrets().empty()) return Outcome::kCurrent;
    absl::StatusOr<vault::TokenSecrets> secrets = vault::OpenSecrets(*deps_.sealer, *record);
    if (!secrets.ok()) {
      *error = std::string(secrets.status().message());
      return Outcome::kFailed;
    }
    if (dry_run) {
      vault::WipeSecrets(&*secrets);
      return Outcome::kRewrapped;
    }
    vault::TokenWrite write;
    write.key = key;
    write.expected_generation = record->generation();
    vault::TokenRecord& put = write.put.emplace(*std::move(record));
    absl::Status sealed = vault::SealSecretsInto(*deps_.sealer, *secrets, &put);
    vault::WipeSecrets(&*secrets);
    if (!sealed.ok()) {
      *error = std::string(sealed.message());
      return Outcome::kFailed;
    }
    absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
    if (absl::IsAborted(committed.status())) continue;
    if (!committed.ok()) {
      *error = std::string(committed.status().message());
      return Outcome::kFailed;
    }
    return Outcome::kRewrapped;
  }
  *error = "the record kept changing; run RewrapAll again";
  return Outcome::kFailed;
}

VaultMaintenance::Outcome VaultMaintenance::RewrapProfile(const TokenKey& key, const std::string& old_key,
                                                          bool dry_run, std::string* error) {
  absl::StatusOr<vault::ProfileEntry> entry = deps_.store->GetProfile(key);
  if (absl::IsNotFound(entry.status())) return Outcome::kCurrent;
  if (!entry.ok()) {
    *error = std::string(entry.status().message());
    return Outcome::kFailed;
  }
  if (entry->key_id() != old_key) return Outcome::kCurrent;
  absl::StatusOr<vault::SecretString> plaintext = vault::OpenProfile(*deps_.sealer, key, *entry);
  if (!plaintext.ok()) {
    *error = std::string(plaintext.status().message());
    return Outcome::kFailed;
  }
  if (dry_run) return Outcome::kRewrapped;
  vault::TokenWrite write;
  write.key = key;
  // The profile belongs to the token's current login: write it back only if
  // that login has not changed meanwhile.
  absl::StatusOr<vault::TokenRecord> record = deps_.store->GetToken(key);
  if (record.ok()) write.expected_generation = record->generation();
  vault::ProfileEntry& updated = write.profile.emplace(*entry);
  if (absl::Status s = vault::SealProfileInto(*deps_.sealer, key, plaintext->view(), &updated); !s.ok()) {
    *error = std::string(s.message());
    return Outcome::kFailed;
  }
  absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
  if (absl::IsAborted(committed.status())) return Outcome::kCurrent;  // replaced by a newer login
  if (!committed.ok()) {
    *error = std::string(committed.status().message());
    return Outcome::kFailed;
  }
  return Outcome::kRewrapped;
}

absl::Status VaultMaintenance::CreateBackup(const wxvault::v1::CreateBackupRequest& request,
                                            wxvault::v1::CreateBackupResponse* response) {
  if (request.keep_latest() < 0) return BadRequest("keep_latest must be >= 0");
  if (request.directory().empty() || request.directory().size() > 4096) {
    return BadRequest("directory is required (an absolute path on the server)");
  }
  const fs::path requested(request.directory());
  if (!requested.is_absolute()) return BadRequest("directory must be an absolute path");
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(requested, ec).lexically_normal();
  const fs::path data = fs::weakly_canonical(deps_.data_dir, ec).lexically_normal();
  const std::string dir_text = dir.string();
  const std::string data_text = data.string();
  if (dir_text == data_text || absl::StartsWith(dir_text, data_text + "/")) {
    return BadRequest("directory must not be inside --data_dir");
  }
  RunningGuard guard(&backup_running_);
  if (!guard.held()) return InProgress("CreateBackup");
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec) || access(dir_text.c_str(), W_OK) != 0) {
    return BadRequest(absl::StrCat("directory ", dir_text, " is not a writable directory"));
  }
  const std::vector<uint32_t> existing = ListBackupIds(dir);
  const uint32_t id = existing.empty() ? 1 : existing.back() + 1;
  absl::StatusOr<std::vector<std::string>> key_ids = deps_.store->KeyIdsInUse();
  if (!key_ids.ok()) return VaultFailure(key_ids.status());

  const absl::Time start = deps_.clock->Now();
  const fs::path target = dir / absl::StrCat(kBackupPrefix, id);
  absl::StatusOr<vault::BackupInfo> info = deps_.store->CreateBackup(target.string());
  if (!info.ok()) return VaultFailure(info.status());
  const absl::Time end = deps_.clock->Now();

  std::vector<uint32_t> ids = ListBackupIds(dir);
  while (request.keep_latest() > 0 && ids.size() > static_cast<size_t>(request.keep_latest())) {
    fs::remove_all(dir / absl::StrCat(kBackupPrefix, ids.front()), ec);
    ids.erase(ids.begin());
  }
  uint64_t total = 0;
  uint64_t unshared = 0;
  MeasureBackup(target, &total, &unshared);
  response->set_backup_id(id);
  response->set_directory(dir_text);
  response->set_size_bytes(total);
  response->set_new_bytes(unshared);
  SetTimestamp(start, response->mutable_created_at());
  SetDuration(end - start, response->mutable_elapsed());
  for (const std::string& key_id : *key_ids) response->add_key_ids(key_id);
  response->set_newest_event_sequence(info->last_event_sequence);
  response->set_backup_count(static_cast<uint32_t>(ids.size()));
  return absl::OkStatus();
}

absl::Status VaultMaintenance::Compact(wxvault::v1::CompactResponse* response) {
  RunningGuard guard(&compact_running_);
  if (!guard.held()) return InProgress("Compact");
  const absl::Time start = deps_.clock->Now();
  absl::StatusOr<vault::StoreStats> before = deps_.store->Stats();
  if (!before.ok()) return VaultFailure(before.status());
  if (absl::Status s = deps_.store->Compact(); !s.ok()) return VaultFailure(s);
  absl::StatusOr<vault::StoreStats> after = deps_.store->Stats();
  if (!after.ok()) return VaultFailure(after.status());
  response->set_data_size_bytes_before(before->data_size_bytes);
  response->set_data_size_bytes_after(after->data_size_bytes);
  SetDuration(deps_.clock->Now() - start, response->mutable_elapsed());
  return absl::OkStatus();
}

}  // namespace wxvault::service
