// The records the crash-safety test writes and checks: everything about
// record number `index` is derived from the index, so the parent can verify
// what the killed child acknowledged.
#ifndef WXVAULT_TESTS_VAULT_CRASH_RECORDS_H_
#define WXVAULT_TESTS_VAULT_CRASH_RECORDS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "vault/record_sealing.h"
#include "vault/sealer.h"
#include "vault/token_store.h"

namespace wxvault::testing {

inline vault::TokenKey CrashKey(uint64_t index) { return {"wxcrash", absl::StrCat("user-", index)}; }
inline std::string CrashAccessToken(uint64_t index) { return absl::StrCat("crash-at-", index, "-acc"); }
inline std::string CrashRefreshToken(uint64_t index) { return absl::StrCat("crash-rt-", index, "-ref"); }
inline int64_t CrashDueAt(uint64_t index) { return 1'000'000 + static_cast<int64_t>(index); }

inline absl::StatusOr<vault::TokenWrite> MakeCrashWrite(const vault::Sealer& sealer, uint64_t index) {
  vault::TokenWrite write;
  write.key = CrashKey(index);
  write.expected_generation = 0;
  vault::TokenRecord& record = write.put.emplace();
  record.set_app_id(write.key.app_id);
  record.set_openid(write.key.openid);
  record.set_state(vault::RECORD_STATE_ACTIVE);
  record.set_next_due_at_ms(CrashDueAt(index));
  vault::TokenSecrets secrets;
  secrets.set_access_token(CrashAccessToken(index));
  secrets.set_refresh_token(CrashRefreshToken(index));
  if (absl::Status s = vault::SealSecretsInto(sealer, secrets, &record); !s.ok()) return s;
  vault::EventRecord& event = write.events.emplace_back();
  event.set_type(vault::EVENT_TYPE_CREATED);
  event.set_app_id(write.key.app_id);
  event.set_openid(write.key.openid);
  return write;
}

}  // namespace wxvault::testing

#endif  // WXVAULT_TESTS_VAULT_CRASH_RECORDS_H_
