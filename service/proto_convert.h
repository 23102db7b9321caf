// proto_convert: vault records (vault/token_record.proto) to the public API
// messages (wxvault.v1). The only place that maps RecordState to TokenState,
// EventType to TokenEventType and epoch milliseconds to Timestamps.
//
// Nothing here copies a secret: TokenRecord's sealed payloads are never
// read. Times of 0 ("not set") leave the Timestamp unset.
//
// Thread safety: pure functions.
#ifndef WXVAULT_SERVICE_PROTO_CONVERT_H_
#define WXVAULT_SERVICE_PROTO_CONVERT_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "vault/token_record.pb.h"
#include "wxvault/v1/token_vault.pb.h"
#include "wxvault/v1/types.pb.h"
#include "wxvault/v1/vault_admin.pb.h"

namespace wxvault::service {

// Sets `out` to the instant `unix_ms`; clears it when unix_ms is 0.
void SetTimestampMillis(int64_t unix_ms, google::protobuf::Timestamp* out);
void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);
void SetDuration(absl::Duration d, google::protobuf::Duration* out);

wxvault::v1::TokenState ToTokenState(vault::RecordState state);
// The store filter for a ListTokens state filter (UNSPECIFIED: any).
vault::RecordState ToRecordState(wxvault::v1::TokenState state);

// The public metadata of `record`.
void ToTokenInfo(const vault::TokenRecord& record, wxvault::v1::TokenInfo* out);

// GetToken's answer: the TokenInfo plus the admin-only bookkeeping.
// `profile_fetched_at_ms` is the cached profile's fetch time (0: none).
void ToGetTokenResponse(const vault::TokenRecord& record, int64_t profile_fetched_at_ms,
                        wxvault::v1::GetTokenResponse* out);

void ToTokenEvent(const vault::EventRecord& event, wxvault::v1::TokenEvent* out);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_PROTO_CONVERT_H_
