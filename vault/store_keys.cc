#include "vault/store_keys.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace wxvault::vault::store_keys {
namespace {

constexpr char kSeparator = '\0';

absl::Status ValidateIdentifier(absl::string_view name, absl::string_view value) {
  if (value.empty() || value.size() > kMaxIdentifierBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be 1..", kMaxIdentifierBytes, " bytes, got ", value.size()));
  }
  if (value.find(kSeparator) != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTokenKey(const TokenKey& key) {
  if (absl::Status s = ValidateIdentifier("app_id", key.app_id); !s.ok()) return s;
  return ValidateIdentifier("openid", key.openid);
}

std::string TokenKeyBytes(const TokenKey& key) {
  std::string out;
  AssignTokenKeyBytes(key.app_id, key.openid, &out);
  return out;
}

void AssignTokenKeyBytes(absl::string_view app_id, absl::string_view openid, std::string* out) {
  out->clear();
  out->reserve(app_id.size() + 1 + openid.size());
  out->append(app_id.data(), app_id.size());
  out->push_back(kSeparator);
  out->append(openid.data(), openid.size());
}

std::optional<TokenKey> ParseTokenKeyBytes(absl::string_view bytes) {
  size_t sep = bytes.find(kSeparator);
  if (sep == absl::string_view::npos || sep == 0 || sep + 1 >= bytes.size()) return std::nullopt;
  return TokenKey{std::string(bytes.substr(0, sep)), std::string(bytes.substr(sep + 1))};
}

void AppendBigEndian64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t ReadBigEndian64(absl::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

std::string ScheduleKey(int64_t due_at_ms, const TokenKey& key) {
  std::string out;
  AppendBigEndian64(static_cast<uint64_t>(due_at_ms), &out);
  out.append(TokenKeyBytes(key));
  return out;
}

std::optional<DueEntry> ParseScheduleKey(absl::string_view bytes) {
  if (bytes.size() < 8) return std::nullopt;
  std::optional<TokenKey> key = ParseTokenKeyBytes(bytes.substr(8));
  if (!key.has_value()) return std::nullopt;
  return DueEntry{static_cast<int64_t>(ReadBigEndian64(bytes)), *std::move(key)};
}

std::string ExchangeExpiryKey(int64_t expires_at_ms, absl::string_view digest) {
  std::string out;
  AppendBigEndian64(static_cast<uint64_t>(expires_at_ms), &out);
  out.append(digest.data(), digest.size());
  return out;
}

std::string EventKey(uint64_t sequence) {
  std::string out;
  AppendBigEndian64(sequence, &out);
  return out;
}

std::string KeyIndexPrefix(absl::string_view key_id) {
  return absl::StrCat(key_id, absl::string_view(&kSeparator, 1));
}

std::string KeyIndexKey(absl::string_view key_id, SealedKind kind, const TokenKey& key) {
  std::string out = KeyIndexPrefix(key_id);
  out.push_back(static_cast<char>(kind));
  out.append(TokenKeyBytes(key));
  return out;
}

std::optional<std::pair<std::string, SealedRef>> ParseKeyIndexKey(absl::string_view bytes) {
  size_t sep = bytes.find(kSeparator);
  if (sep == absl::string_view::npos || sep == 0 || sep + 2 >= bytes.size()) return std::nullopt;
  uint8_t kind = static_cast<uint8_t>(bytes[sep + 1]);
  if (kind != static_cast<uint8_t>(SealedKind::kTokenSecrets) &&
      kind != static_cast<uint8_t>(SealedKind::kProfile)) {
    return std::nullopt;
  }
  std::optional<TokenKey> key = ParseTokenKeyBytes(bytes.substr(sep + 2));
  if (!key.has_value()) return std::nullopt;
  return std::make_pair(std::string(bytes.substr(0, sep)),
                        SealedRef{static_cast<SealedKind>(kind), *std::move(key)});
}

std::string StateCounterName(RecordState state) {
  return absl::StrCat("tokens_in_state/", RecordState_Name(state));
}

std::string KeyCounterName(absl::string_view key_id) { return absl::StrCat("sealed_by_key/", key_id); }

std::string EncodePageToken(const TokenKey& last) {
  return absl::WebSafeBase64Escape(TokenKeyBytes(last));
}

std::optional<TokenKey> DecodePageToken(absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return std::nullopt;
  std::optional<TokenKey> key = ParseTokenKeyBytes(raw);
  if (!key.has_value() || !ValidateTokenKey(*key).ok()) return std::nullopt;
  return key;
}

}  // namespace wxvault::vault::store_keys
