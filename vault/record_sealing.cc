#include "vault/record_sealing.h"

#include <sodium.h>

#include <string>

namespace wxvault::vault {
namespace {

void WipeString(std::string* s) {
  if (!s->empty()) sodium_memzero(s->data(), s->size());
  s->clear();
}

}  // namespace

void WipeSecrets(TokenSecrets* secrets) {
  WipeString(secrets->mutable_access_token());
  WipeString(secrets->mutable_refresh_token());
}

absl::Status SealSecretsInto(const Sealer& sealer, const TokenSecrets& secrets, TokenRecord* record) {
  std::string plaintext;
  secrets.SerializeToString(&plaintext);
  absl::StatusOr<std::string> envelope =
      sealer.Seal({record->app_id(), record->openid(), RecordKind::kTokenSecrets}, plaintext);
  WipeString(&plaintext);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<std::string> key_id = Sealer::KeyIdOf(*envelope);
  if (!key_id.ok()) return key_id.status();
  record->set_sealed_secrets(*std::move(envelope));
  record->set_key_id(*std::move(key_id));
  return absl::OkStatus();
}

absl::StatusOr<TokenSecrets> OpenSecrets(const Sealer& sealer, const TokenRecord& record) {
  if (record.sealed_secrets().empty()) {
    return absl::FailedPreconditionError("token holds no secrets (revoked or re-login required)");
  }
  absl::StatusOr<SecretString> plaintext =
      sealer.Open({record.app_id(), record.openid(), RecordKind::kTokenSecrets}, record.sealed_secrets());
  if (!plaintext.ok()) return plaintext.status();
  TokenSecrets secrets;
  if (!secrets.ParseFromArray(plaintext->view().data(), static_cast<int>(plaintext->size()))) {
    return absl::DataLossError("opened token secrets do not parse");
  }
  return secrets;
}

absl::Status SealProfileInto(const Sealer& sealer, const TokenKey& key, absl::string_view serialized_profile,
                             ProfileEntry* entry) {
  absl::StatusOr<std::string> envelope =
      sealer.Seal({key.app_id, key.openid, RecordKind::kProfile}, serialized_profile);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<std::string> key_id = Sealer::KeyIdOf(*envelope);
  if (!key_id.ok()) return key_id.status();
  entry->set_sealed_profile(*std::move(envelope));
  entry->set_key_id(*std::move(key_id));
  return absl::OkStatus();
}

absl::StatusOr<SecretString> OpenProfile(const Sealer& sealer, const TokenKey& key, const ProfileEntry& entry) {
  if (entry.sealed_profile().empty()) return absl::FailedPreconditionError("profile entry is empty");
  return sealer.Open({key.app_id, key.openid, RecordKind::kProfile}, entry.sealed_profile());
}

}  // namespace wxvault::vault
