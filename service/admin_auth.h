// AdminAuthorizer: who may call wxvault.v1.VaultAdmin.
//
// With an admin token (--admin_token_file): every call must carry metadata
// `authorization: Bearer <token>`. The comparison is constant-time (both
// sides are hashed with BLAKE2b and compared with sodium_memcmp, so neither
// the content nor the length of the token leaks through timing).
// Without one: calls are allowed only from a Unix-socket peer (gRPC peer
// "unix:...") or when the server runs with --demo; anything else is refused.
//
// Errors (code / wxvault-reason):
//   UNAUTHENTICATED / ADMIN_CREDENTIAL_MISSING   no authorization metadata
//   PERMISSION_DENIED / ADMIN_CREDENTIAL_INVALID wrong or malformed token
//   PERMISSION_DENIED / ADMIN_DISABLED           no token configured and the
//                                                call is not over a Unix socket
// Messages never echo the presented credential.
//
// Thread safety: immutable after construction; Check is thread-safe.
#ifndef WXVAULT_SERVICE_ADMIN_AUTH_H_
#define WXVAULT_SERVICE_ADMIN_AUTH_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace wxvault::service {

class AdminAuthorizer {
 public:
  // `token`: the admin bearer token; empty when none is configured.
  // `demo`: the server runs with --demo.
  AdminAuthorizer(std::string token, bool demo);
  ~AdminAuthorizer();
  AdminAuthorizer(const AdminAuthorizer&) = delete;
  AdminAuthorizer& operator=(const AdminAuthorizer&) = delete;

  // Checks one call. `authorization`: the metadata value, if present.
  absl::Status Check(absl::string_view peer, std::optional<absl::string_view> authorization) const;
  // Check() with the peer and metadata of `ctx`.
  absl::Status Check(const grpc::ServerContextBase& ctx) const;

 private:
  std::string token_digest_;  // BLAKE2b-256 of the token; empty: no token
  const bool demo_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_ADMIN_AUTH_H_
