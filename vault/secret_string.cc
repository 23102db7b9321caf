#include "vault/secret_string.h"

#include <sodium.h>

#include <utility>

namespace wxvault {
namespace vault {

// Zeroes every byte the string owns, including unused capacity (a shrunk
// string keeps the old bytes past size()) and the inline SSO buffer, then
// empties it. resize() up to capacity() never reallocates.
void WipeString(std::string& s) {
  s.resize(s.capacity());
  sodium_memzero(s.data(), s.size());
  s.clear();
}

SecretString::SecretString(std::string s) : s_(std::move(s)) { WipeString(s); }

SecretString::SecretString(SecretString&& other) noexcept
    : s_(std::move(other.s_)) {
  // A short string is copied out of other's inline buffer, not stolen.
  WipeString(other.s_);
}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    WipeString(s_);
    s_ = std::move(other.s_);
    WipeString(other.s_);
  }
  return *this;
}

SecretString::~SecretString() { WipeString(s_); }

void SecretString::Clear() { WipeString(s_); }

}  // namespace vault
}  // namespace wxvault
