// Small helpers shared by token_service.cc and token_lifecycle.cc (the two
// halves of TokenService). Internal to service/; not a public API.
#ifndef WXVAULT_SERVICE_TOKEN_SERVICE_INTERNAL_H_
#define WXVAULT_SERVICE_TOKEN_SERVICE_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vault/token_record.pb.h"
#include "vault/token_store.h"

namespace wxvault::service::token_internal {

inline int64_t ToMillis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

// An event for `key`; a non-OK `cause` contributes its reason and errcode.
vault::EventRecord MakeEvent(vault::EventType type, const vault::TokenKey& key, int64_t now_ms,
                             absl::string_view detail, const absl::Status& cause = absl::OkStatus());

// The name of a token's single-flight refresh lock (shared by the RPC path,
// the refresher and maintenance).
std::string RefreshLockName(const vault::TokenKey& key);

// NOT_FOUND/TOKEN_NOT_FOUND.
absl::Status TokenNotFound();
// FAILED_PRECONDITION/REAUTH_REQUIRED saying why.
absl::Status ReauthRequired(absl::string_view why);

}  // namespace wxvault::service::token_internal

#endif  // WXVAULT_SERVICE_TOKEN_SERVICE_INTERNAL_H_
