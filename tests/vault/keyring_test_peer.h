// KeyringTestPeer: reaches into Keyring's guarded key region for tests
// (Keyring declares it a friend). Test-only.
#ifndef WXVAULT_TESTS_VAULT_KEYRING_TEST_PEER_H_
#define WXVAULT_TESTS_VAULT_KEYRING_TEST_PEER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "vault/keyring.h"

namespace wxvault {
namespace vault {

class KeyringTestPeer {
 public:
  static int Readers(const Keyring& keyring) {
    absl::MutexLock lock(&keyring.mu_);
    return keyring.readers_;
  }
  static bool Readable(const Keyring& keyring) {
    absl::MutexLock lock(&keyring.mu_);
    return keyring.readable_;
  }
  // Runs fn(active key bytes) while holding a KeyAccess.
  template <typename Fn>
  static void WithAccess(const Keyring& keyring, Fn fn) {
    Keyring::KeyAccess access(keyring);
    fn(access.Active());
  }
  static const unsigned char* Region(const Keyring& keyring) {
    return keyring.keys_;
  }
  // Copies key `id`'s bytes out while holding a KeyAccess.
  static std::string KeyBytes(const Keyring& keyring, absl::string_view id) {
    Keyring::KeyAccess access(keyring);
    const unsigned char* key = access.Find(id);
    if (key == nullptr) return "";
    return std::string(reinterpret_cast<const char*>(key), kKeyBytes);
  }
};

}  // namespace vault
}  // namespace wxvault

#endif  // WXVAULT_TESTS_VAULT_KEYRING_TEST_PEER_H_
