#include "service/admin_auth.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "service/error_reason.h"
#include "vault/secret_string.h"

namespace wxvault::service {
namespace {

std::string Digest(absl::string_view text) {
  std::string digest(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(digest.data()), digest.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return digest;
}

}  // namespace

AdminAuthorizer::AdminAuthorizer(std::string token, bool demo) : demo_(demo) {
  if (sodium_init() < 0) abort();  // libsodium cannot initialise: no crypto at all
  if (!token.empty()) token_digest_ = Digest(token);
  vault::WipeString(token);
}

AdminAuthorizer::~AdminAuthorizer() { vault::WipeString(token_digest_); }

absl::Status AdminAuthorizer::Check(absl::string_view peer, std::optional<absl::string_view> authorization) const {
  if (token_digest_.empty()) {
    if (demo_ || absl::StartsWith(peer, "unix:")) return absl::OkStatus();
    return MakeError(absl::StatusCode::kPermissionDenied,
                     "VaultAdmin is disabled on this listener: no --admin_token_file is configured (admin is "
                     "allowed without a token only over a Unix socket or in --demo)",
                     "ADMIN_DISABLED");
  }
  if (!authorization.has_value() || authorization->empty()) {
    return MakeError(absl::StatusCode::kUnauthenticated, "VaultAdmin needs metadata 'authorization: Bearer <token>'",
                     "ADMIN_CREDENTIAL_MISSING");
  }
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  const bool bearer = value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ");
  const std::string presented = Digest(bearer ? absl::StripAsciiWhitespace(value.substr(7)) : absl::string_view());
  if (!bearer || sodium_memcmp(presented.data(), token_digest_.data(), token_digest_.size()) != 0) {
    return MakeError(absl::StatusCode::kPermissionDenied, "the admin bearer token is wrong",
                     "ADMIN_CREDENTIAL_INVALID");
  }
  return absl::OkStatus();
}

absl::Status AdminAuthorizer::Check(const grpc::ServerContextBase& ctx) const {
  std::optional<absl::string_view> authorization;
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) authorization = absl::string_view(it->second.data(), it->second.size());
  return Check(ctx.peer(), authorization);
}

}  // namespace wxvault::service
