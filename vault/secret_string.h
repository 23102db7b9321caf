// SecretString: the owner of secret plaintext bytes (refresh tokens, access
// tokens, app secrets, opened vault records) while they are in memory.
//
// A SecretString is a std::string that cannot be copied by accident and whose
// bytes are wiped with sodium_memzero when it is destroyed, cleared or
// overwritten by a move. Moving it hands the bytes over without leaving a copy
// in the moved-from object. Read the bytes through view(); any std::string you
// build from the view is an ordinary (unwiped) copy, so keep such copies short
// lived and prefer passing the view along.
//
// What it does not do: lock the bytes in RAM (mlock) or protect them with
// mprotect; that is reserved for master keys (see keyring.h).
//
// Thread safety: like std::string. Const methods may be called concurrently;
// a non-const method needs exclusive access.
//
// WipeString() is the same wipe for a plain std::string that briefly held a
// secret (a JSON field, a decryption buffer) before it is dropped or reused.
#ifndef WXVAULT_VAULT_SECRET_STRING_H_
#define WXVAULT_VAULT_SECRET_STRING_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace wxvault {
namespace vault {

class SecretString {
 public:
  // An empty secret.
  SecretString() = default;
  // Takes ownership of `s`. Pass an rvalue (std::move) so that no unwiped
  // copy stays behind with the caller. A short string lives inside the
  // std::string object itself and is copied, not stolen, by a move; the
  // constructor wipes its by-value parameter, but a moved-from argument of
  // the caller's still holds those bytes: WipeString() it.
  explicit SecretString(std::string s);

  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  // Moves the bytes; `other` is left empty with its inline buffer wiped.
  SecretString(SecretString&& other) noexcept;
  // Wipes this secret's bytes, then moves `other`'s bytes in.
  SecretString& operator=(SecretString&& other) noexcept;
  // Wipes the bytes (the whole allocated capacity).
  ~SecretString();

  // The secret bytes. Valid until the next non-const call or destruction.
  absl::string_view view() const { return s_; }
  size_t size() const { return s_.size(); }
  bool empty() const { return s_.empty(); }
  // Wipes the bytes and leaves the secret empty.
  void Clear();

 private:
  std::string s_;
};

// Zeroes every byte `s` owns (its whole capacity, including the inline
// buffer of a short string) with sodium_memzero and leaves it empty. Never
// reallocates or throws. Not thread-safe for a string shared without
// synchronisation.
void WipeString(std::string& s);

}  // namespace vault
}  // namespace wxvault

#endif  // WXVAULT_VAULT_SECRET_STRING_H_
