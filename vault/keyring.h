// Keyring: the master keys that seal the vault, loaded from --master_key_file.
//
// File format (one key per line, see DESIGN.md section 4):
//
//   # comments and blank lines are ignored
//   2024-01:q7tPZ...base64 of exactly 32 random bytes...=
//   2025-06:Xk1Rv...=
//
// Each key line is "<key_id>:<base64>". The key id is 1..64 characters of
// [A-Za-z0-9._-]; the value is padded standard base64 (RFC 4648 section 4,
// what `openssl rand -base64 32` and `head -c32 /dev/urandom | base64` print)
// of exactly kKeyBytes bytes. Whitespace around a line and around either field
// is ignored. Every key opens records; the LAST key line is the active key,
// under which new records are sealed. To rotate, append a new line, restart,
// run VaultAdmin.RewrapAll, and drop an old line only once no record uses it.
//
// Key bytes live in one sodium_malloc'd region (guard pages, mlock'd where the
// system allows) that is PROT_NONE while the keys are not in use. The first
// access after an idle period makes it readable; it then stays readable while
// accesses keep coming, and ProtectIfIdle(), which the server calls about
// once a second (service/key_guard.h), makes it inaccessible again once a
// whole period passed without an access. Stray reads of key memory (a bug, a
// debugger-less heap scan) of an idle server then fault instead of leaking.
//
// Why not re-protect after every access: mprotect on a multi-threaded process
// flushes the TLB of every other CPU running it, by inter-processor interrupt.
// Measured in BENCHMARKS.md, toggling on every seal tripled the cost of a
// seal, made two sealing threads slower than one and took 26 % of the CPU of
// a loaded server. A busy server reads its keys thousands of times a second,
// so a per-access toggle bought almost no protected time for that cost.
//
// The text of the file and every decoded temporary are wiped with
// sodium_memzero. No error message or warning produced here ever contains key
// material: bad lines are reported by file and line number only (key ids are
// echoed only once they have been validated).
//
// Only Sealer (sealer.h) reads key bytes; nothing else in wxvault needs them.
//
// Thread safety: a Keyring is immutable after construction. All const methods
// may be called concurrently from any number of threads, including the
// concurrent key accesses made by Sealer::Seal/Open.
#ifndef WXVAULT_VAULT_KEYRING_H_
#define WXVAULT_VAULT_KEYRING_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace wxvault {
namespace vault {

// Size of every master key, in bytes (XChaCha20-Poly1305 / BLAKE2b key size).
inline constexpr size_t kKeyBytes = 32;
// Longest accepted key id, in characters.
inline constexpr size_t kMaxKeyIdLength = 64;

class Sealer;
class KeyringTestPeer;

// True if `key_id` is 1..kMaxKeyIdLength characters of [A-Za-z0-9._-].
bool IsValidKeyId(absl::string_view key_id);

class Keyring {
 public:
  // Reads and parses the keyring file at `path` (format above).
  //
  // Returns:
  //   NOT_FOUND          `path` does not exist.
  //   PERMISSION_DENIED  `path` exists but cannot be opened for reading.
  //   INVALID_ARGUMENT   "<path>:<line>: ..." for a malformed line (no ':',
  //                      bad key id, bad base64, a value that does not decode
  //                      to 32 bytes, a duplicate key id); "<path>: ..." for a
  //                      file with no key line, a directory, or a file larger
  //                      than 1 MiB.
  //   INTERNAL           other I/O failures; libsodium failed to initialise or
  //                      to allocate guarded memory.
  // If the file is a regular file readable or writable by group or others
  // (mode & 077), it is still loaded, and a warning naming the path and
  // suggesting `chmod 600` is appended to *warnings when `warnings` is not
  // null. The caller decides how loudly to log it.
  // Thread safety: safe to call concurrently.
  static absl::StatusOr<std::unique_ptr<Keyring>> LoadFile(
      const std::string& path, std::vector<std::string>* warnings);

  // Parses keyring text already in memory. `source_name` (usually the path)
  // prefixes error messages. Same errors as LoadFile's INVALID_ARGUMENT and
  // INTERNAL cases. `text` is not modified or wiped: the caller owns it.
  // Thread safety: safe to call concurrently.
  static absl::StatusOr<std::unique_ptr<Keyring>> Parse(
      absl::string_view text, absl::string_view source_name);

  // Builds a keyring from (key id, raw 32-byte key) pairs in keyring order:
  // the last pair is the active key. For tests and --demo. Same validation
  // as Parse (INVALID_ARGUMENT naming the pair's index: bad key id, wrong
  // key length, duplicate id, empty list). The caller owns and should wipe
  // the input bytes.
  // Thread safety: safe to call concurrently.
  static absl::StatusOr<std::unique_ptr<Keyring>> FromRawKeys(
      const std::vector<std::pair<std::string, std::string>>& id_and_32_bytes);

  // Returns one keyring-file line "<key_id>:<base64>" (no trailing newline)
  // holding a fresh random key from the system CSPRNG (randombytes_buf).
  // `key_id` must be a valid key id; otherwise the line is one that Parse
  // rejects. The returned string is key material: write it to a 0600 file
  // and drop it. Aborts (libsodium misuse handler) only if the system has no
  // usable random source.
  // Thread safety: safe to call concurrently.
  static std::string GenerateKeyLine(absl::string_view key_id);

  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;
  // Wipes and frees the key region (sodium_free).
  ~Keyring();

  // The id of the active key: the last key line. Never empty.
  const std::string& active_key_id() const { return ids_.back(); }
  // All key ids in file order (the active one last).
  std::vector<std::string> key_ids() const { return ids_; }
  // True if `key_id` is in the keyring.
  bool Contains(absl::string_view key_id) const;

  // Makes the key region inaccessible (PROT_NONE) if no key access is in
  // progress and none has started since the previous call; otherwise only
  // starts a new idle period. Call it periodically: with period P, keys stay
  // readable at most ~2P after their last use. Returns true if the region is
  // inaccessible when the call returns.
  // Thread safety: safe to call concurrently with anything.
  bool ProtectIfIdle() const;

 private:
  friend class Sealer;
  friend class KeyringTestPeer;

  // Scoped read access to the key bytes, for Sealer only. Creating one makes
  // the key region readable (PROT_READ) if it is not; destroying one does not
  // protect it again: ProtectIfIdle does that later. Pointers returned by a
  // KeyAccess are valid only during its lifetime and point to kKeyBytes bytes.
  // Any number of KeyAccess objects may exist concurrently on different
  // threads.
  class KeyAccess {
   public:
    explicit KeyAccess(const Keyring& keyring);
    ~KeyAccess();
    KeyAccess(const KeyAccess&) = delete;
    KeyAccess& operator=(const KeyAccess&) = delete;

    // The key named `key_id`, or nullptr if it is not in the keyring.
    const unsigned char* Find(absl::string_view key_id) const;
    // The active key.
    const unsigned char* Active() const;

   private:
    const Keyring& keyring_;
  };

  // Takes ownership of `keys`: a sodium_malloc'd region of
  // ids.size() * kKeyBytes bytes, in PROT_NONE state.
  Keyring(std::vector<std::string> ids, unsigned char* keys);

  // Index of `key_id` in ids_, or -1.
  int IndexOf(absl::string_view key_id) const;
  void AcquireRead() const;
  void ReleaseRead() const;

  const std::vector<std::string> ids_;  // File order; never empty.
  unsigned char* const keys_;           // ids_.size() * kKeyBytes, guarded.

  mutable absl::Mutex mu_;
  // Number of live KeyAccess objects.
  mutable int readers_ ABSL_GUARDED_BY(mu_) = 0;
  // True while keys_ is PROT_READ; false while it is PROT_NONE.
  mutable bool readable_ ABSL_GUARDED_BY(mu_) = false;
  // A KeyAccess started since the last ProtectIfIdle call.
  mutable bool used_since_check_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vault
}  // namespace wxvault

#endif  // WXVAULT_VAULT_KEYRING_H_
