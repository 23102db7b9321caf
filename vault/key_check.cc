#include "vault/key_check.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "vault/record_sealing.h"

namespace wxvault::vault {
namespace {

constexpr absl::string_view kKeyCheckPrefix = "keycheck/";
constexpr absl::string_view kKeyCheckPlaintext = "wxvault key check v1";
constexpr absl::string_view kKeyCheckApp = "wxvault";

RecordIdentity KeyCheckIdentity(absl::string_view key_id) {
  return RecordIdentity{kKeyCheckApp, key_id, RecordKind::kKeyCheck};
}

absl::Status WrongKeyError(absl::string_view key_id, absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("key '", key_id, "' in the keyring does not open this vault's ", what,
                   ": wrong key material for that id; refusing to start without touching the data"));
}

// Opens one payload sealed under `key_id` to prove the key material.
absl::Status ProbeOnePayload(TokenStore& store, const Sealer& sealer, const std::string& key_id) {
  absl::StatusOr<std::vector<SealedRef>> refs = store.ListSealedByKey(key_id, std::nullopt, 1);
  if (!refs.ok()) return refs.status();
  if (refs->empty()) return absl::OkStatus();
  const SealedRef& ref = refs->front();
  absl::Status opened;
  if (ref.kind == SealedKind::kTokenSecrets) {
    absl::StatusOr<TokenRecord> record = store.GetToken(ref.key);
    if (absl::IsNotFound(record.status())) return absl::OkStatus();
    if (!record.ok()) return record.status();
    absl::StatusOr<TokenSecrets> secrets = OpenSecrets(sealer, *record);
    if (secrets.ok()) WipeSecrets(&*secrets);
    opened = secrets.status();
  } else {
    absl::StatusOr<ProfileEntry> profile = store.GetProfile(ref.key);
    if (absl::IsNotFound(profile.status())) return absl::OkStatus();
    if (!profile.ok()) return profile.status();
    opened = OpenProfile(sealer, ref.key, *profile).status();
  }
  if (absl::IsDataLoss(opened)) return WrongKeyError(key_id, "stored records");
  return opened;
}

}  // namespace

absl::Status VerifyKeyring(TokenStore& store, const Sealer& sealer) {
  const Keyring& keyring = sealer.keyring();
  absl::StatusOr<std::vector<std::string>> in_use = store.KeyIdsInUse();
  if (!in_use.ok()) return in_use.status();
  std::vector<std::string> missing;
  for (const std::string& id : *in_use) {
    if (!keyring.Contains(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the vault holds records sealed with key id(s) ", absl::StrJoin(missing, ", "),
        " not in the keyring; add those lines back to --master_key_file (a key may be dropped only after "
        "RewrapAll has re-sealed everything under the active key)"));
  }
  absl::StatusOr<std::map<std::string, std::string>> checks = store.ListMeta(kKeyCheckPrefix);
  if (!checks.ok()) return checks.status();
  for (const auto& [name, envelope] : *checks) {
    const std::string key_id = name.substr(kKeyCheckPrefix.size());
    if (!keyring.Contains(key_id)) continue;
    absl::StatusOr<SecretString> plaintext = sealer.Open(KeyCheckIdentity(key_id), envelope);
    if (!plaintext.ok() || plaintext->view() != kKeyCheckPlaintext) {
      return WrongKeyError(key_id, "key-check record");
    }
  }
  for (const std::string& id : *in_use) {
    if (absl::Status s = ProbeOnePayload(store, sealer, id); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RecordKeyChecks(TokenStore& store, const Sealer& sealer) {
  const Keyring& keyring = sealer.keyring();
  absl::StatusOr<std::map<std::string, std::string>> checks = store.ListMeta(kKeyCheckPrefix);
  if (!checks.ok()) return checks.status();
  for (const std::string& key_id : keyring.key_ids()) {
    const std::string name = absl::StrCat(kKeyCheckPrefix, key_id);
    if (checks->count(name) > 0) continue;
    absl::StatusOr<std::string> envelope = sealer.SealWithKey(key_id, KeyCheckIdentity(key_id), kKeyCheckPlaintext);
    if (!envelope.ok()) return envelope.status();
    if (absl::Status s = store.PutMeta(name, *envelope); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<std::string>> in_use = store.KeyIdsInUse();
  if (!in_use.ok()) return in_use.status();
  for (const auto& [name, envelope] : *checks) {
    const std::string key_id = name.substr(kKeyCheckPrefix.size());
    const bool used = std::find(in_use->begin(), in_use->end(), key_id) != in_use->end();
    if (!keyring.Contains(key_id) && !used) {
      if (absl::Status s = store.DeleteMeta(name); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RocksTokenStore>> OpenVerifiedVault(const RocksTokenStoreOptions& options,
                                                                  const Sealer& sealer) {
  RocksTokenStoreOptions read_only = options;
  read_only.read_only = true;
  absl::StatusOr<std::unique_ptr<RocksTokenStore>> existing = RocksTokenStore::Open(read_only);
  if (existing.ok()) {
    if (absl::Status s = VerifyKeyring(**existing, sealer); !s.ok()) return s;
    existing->reset();
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  absl::StatusOr<std::unique_ptr<RocksTokenStore>> store = RocksTokenStore::Open(options);
  if (!store.ok()) return store.status();
  if (options.read_only) return store;
  if (absl::Status s = RecordKeyChecks(**store, sealer); !s.ok()) return s;
  return store;
}

}  // namespace wxvault::vault
