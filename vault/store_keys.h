// Byte encodings of the keys RocksTokenStore writes. One place, so that the
// on-disk layout is readable in one file and tested directly.
//
// Layout (column family: key -> value)
//   tokens:          app_id \0 openid                      -> TokenRecord
//   schedule:        be64(due_at_ms) app_id \0 openid      -> ""
//   exchanges:       digest                                -> ExchangeEntry
//   exchange_expiry: be64(expires_at_ms) digest            -> ""
//   profiles:        app_id \0 openid                      -> ProfileEntry
//   events:          be64(sequence)                        -> EventRecord
//   key_index:       key_id \0 kind app_id \0 openid       -> ""
//   counters:        name                                  -> le64 (merge: add)
//   default:         meta name                             -> value
// Big-endian integers keep RocksDB's bytewise order equal to numeric order.
//
// Thread safety: pure functions.
#ifndef WXVAULT_VAULT_STORE_KEYS_H_
#define WXVAULT_VAULT_STORE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vault/token_store.h"

namespace wxvault::vault::store_keys {

// INVALID_ARGUMENT unless app_id and openid are 1..kMaxIdentifierBytes long
// and contain no NUL byte.
absl::Status ValidateTokenKey(const TokenKey& key);

std::string TokenKeyBytes(const TokenKey& key);
// TokenKeyBytes of (app_id, openid) into *out (replacing its content):
// lets a hot path reuse one buffer instead of allocating.
void AssignTokenKeyBytes(absl::string_view app_id, absl::string_view openid, std::string* out);
std::optional<TokenKey> ParseTokenKeyBytes(absl::string_view bytes);

void AppendBigEndian64(uint64_t value, std::string* out);
uint64_t ReadBigEndian64(absl::string_view bytes);  // requires bytes.size() >= 8

std::string ScheduleKey(int64_t due_at_ms, const TokenKey& key);
std::optional<DueEntry> ParseScheduleKey(absl::string_view bytes);

std::string ExchangeExpiryKey(int64_t expires_at_ms, absl::string_view digest);

std::string EventKey(uint64_t sequence);

// The key-index prefix of every payload sealed under `key_id`.
std::string KeyIndexPrefix(absl::string_view key_id);
std::string KeyIndexKey(absl::string_view key_id, SealedKind kind, const TokenKey& key);
// Parses a key-index key into its key id and reference.
std::optional<std::pair<std::string, SealedRef>> ParseKeyIndexKey(absl::string_view bytes);

// Counter names.
std::string StateCounterName(RecordState state);
// Counter of payloads sealed under `key_id`; KeyCounterName("") is the prefix.
std::string KeyCounterName(absl::string_view key_id);

// Opaque admin page tokens: web-safe base64 of the last TokenKeyBytes.
std::string EncodePageToken(const TokenKey& last);
std::optional<TokenKey> DecodePageToken(absl::string_view token);

}  // namespace wxvault::vault::store_keys

#endif  // WXVAULT_VAULT_STORE_KEYS_H_
