#include "vault/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace wxvault {
namespace vault {
namespace {

// Keyring files are a handful of lines; anything bigger is a wrong path.
constexpr size_t kMaxFileBytes = 1 << 20;

absl::Status InitSodium() {
  static const int rc = sodium_init();  // 0 first time, 1 if already done.
  if (rc < 0) return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

// A sodium_malloc'd region for `n` keys, readable and writable. Freed with
// sodium_free; the caller must drop it on every path.
absl::StatusOr<unsigned char*> AllocateKeyRegion(size_t n) {
  void* p = sodium_malloc(n * kKeyBytes);
  if (p == nullptr) {
    return absl::InternalError(absl::StrCat(
        "sodium_malloc failed to allocate guarded memory for ", n, " keys"));
  }
  return static_cast<unsigned char*>(p);
}

// Makes a filled region inaccessible; frees it on failure.
absl::Status LockKeyRegion(unsigned char* region) {
  if (sodium_mprotect_noaccess(region) != 0) {
    const int err = errno;
    sodium_free(region);
    return absl::InternalError(
        absl::StrCat("sodium_mprotect_noaccess failed on the key region: ",
                     std::strerror(err)));
  }
  return absl::OkStatus();
}

// Decodes padded standard base64 `b64`, which must hold exactly kKeyBytes
// bytes, into `out`. `where` prefixes errors ("<path>:<line>: key 'id'").
// Neither `b64` nor decoded bytes ever reach an error message; the decoding
// buffer is wiped.
absl::Status DecodeKey(absl::string_view b64, absl::string_view where,
                       unsigned char out[kKeyBytes]) {
  if (b64.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": empty key value; expected base64 of ", kKeyBytes, " bytes"));
  }
  std::string buf(b64.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const int rc = sodium_base642bin(
      reinterpret_cast<unsigned char*>(buf.data()), buf.size(), b64.data(),
      b64.size(), /*ignore=*/nullptr, &len, /*b64_end=*/nullptr,
      sodium_base64_VARIANT_ORIGINAL);
  absl::Status status;
  if (rc != 0) {
    status = absl::InvalidArgumentError(absl::StrCat(
        where,
        ": key value is not valid padded standard base64 (A-Z a-z 0-9 + /, "
        "'=' padding)"));
  } else if (len != kKeyBytes) {
    status = absl::InvalidArgumentError(absl::StrCat(
        where, ": key value decodes to the wrong length: expected ", kKeyBytes,
        " bytes, got ", len));
  } else {
    std::memcpy(out, buf.data(), kKeyBytes);
  }
  sodium_memzero(buf.data(), buf.size());
  return status;
}

// One key line, validated, its value not yet decoded into guarded memory.
struct KeyLine {
  std::string id;
  absl::string_view b64;  // Points into the text being parsed.
  std::string at;         // "<source>:<line>"
  std::string where;      // "<source>:<line>: key '<id>'"
};

std::string DescribeMode(mode_t mode) {
  return absl::StrFormat("%04o", mode & 07777);
}

}  // namespace

bool IsValidKeyId(absl::string_view key_id) {
  if (key_id.empty() || key_id.size() > kMaxKeyIdLength) return false;
  for (char c : key_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::LoadFile(
    const std::string& path, std::vector<std::string>* warnings) {
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(
          absl::StrCat("keyring file '", path, "' does not exist"));
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(absl::StrCat(
          "keyring file '", path, "' is not readable by this process (uid ",
          ::geteuid(), "): ", std::strerror(err)));
    }
    return absl::InternalError(absl::StrCat("cannot open keyring file '", path,
                                            "': ", std::strerror(err)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("cannot stat keyring file '", path,
                                            "': ", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": is a directory; expected a keyring file with lines "
                     "'<key_id>:<base64 of 32 bytes>'"));
  }
  if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": is ", st.st_size, " bytes; a keyring file is at most 1 MiB"));
  }
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 && warnings != nullptr) {
    warnings->push_back(absl::StrCat(
        "keyring file '", path, "' has mode ", DescribeMode(st.st_mode),
        " and is accessible by group or others; it holds the master keys, "
        "restrict it with: chmod 600 '",
        path, "'"));
  }

  // Read straight into a buffer sized once, so no reallocation leaves a copy
  // of key material behind in freed heap memory.
  std::string text(kMaxFileBytes + 1, '\0');
  size_t used = 0;
  absl::Status read_status;
  while (used < text.size()) {
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      read_status = absl::InternalError(absl::StrCat(
          "cannot read keyring file '", path, "': ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (read_status.ok() && used > kMaxFileBytes) {
    read_status = absl::InvalidArgumentError(
        absl::StrCat(path, ": is larger than 1 MiB; not a keyring file"));
  }
  if (!read_status.ok()) {
    sodium_memzero(text.data(), used);
    return read_status;
  }
  absl::StatusOr<std::unique_ptr<Keyring>> result =
      Parse(absl::string_view(text.data(), used), path);
  sodium_memzero(text.data(), used);
  return result;
}

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::Parse(
    absl::string_view text, absl::string_view source_name) {
  if (absl::Status s = InitSodium(); !s.ok()) return s;

  // Pass 1: validate every line, in order, so the first error reported is
  // the first bad line.
  std::vector<KeyLine> lines;
  size_t line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string at = absl::StrCat(source_name, ":", line_no);
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ": expected '<key_id>:<base64 of ", kKeyBytes,
                       " bytes>' (no ':' found)"));
    }
    const absl::string_view id =
        absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view b64 =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    // The text of a bad id is not echoed: a line written the wrong way round
    // ("<base64>:<id>") would otherwise print the key.
    if (!IsValidKeyId(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          at, ": invalid key id (", id.size(),
          " characters); a key id is 1-64 characters of [A-Za-z0-9._-]"));
    }
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].id == id) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": duplicate key id '", id, "' (first defined at ",
                         lines[i].at, ")"));
      }
    }
    KeyLine kl{std::string(id), b64, at, absl::StrCat(at, ": key '", id, "'")};
    unsigned char scratch[kKeyBytes];
    absl::Status decoded = DecodeKey(b64, kl.where, scratch);
    sodium_memzero(scratch, sizeof(scratch));
    if (!decoded.ok()) return decoded;
    lines.push_back(std::move(kl));
  }
  if (lines.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": contains no keys; expected at least one line '<key_id>:"
                     "<base64 of 32 bytes>' (generate one with: printf 'k1:'; "
                     "head -c32 /dev/urandom | base64)"));
  }
  // Pass 2: decode straight into guarded memory.
  absl::StatusOr<unsigned char*> region = AllocateKeyRegion(lines.size());
  if (!region.ok()) return region.status();
  std::vector<std::string> ids;
  ids.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::Status s =
        DecodeKey(lines[i].b64, lines[i].where, *region + i * kKeyBytes);
    if (!s.ok()) {  // Cannot happen: pass 1 decoded the same bytes.
      sodium_free(*region);
      return s;
    }
    ids.push_back(std::move(lines[i].id));
  }
  if (absl::Status s = LockKeyRegion(*region); !s.ok()) return s;
  return std::unique_ptr<Keyring>(new Keyring(std::move(ids), *region));
}

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::FromRawKeys(
    const std::vector<std::pair<std::string, std::string>>& id_and_32_bytes) {
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  if (id_and_32_bytes.empty()) {
    return absl::InvalidArgumentError("raw keys: no keys given");
  }
  for (size_t i = 0; i < id_and_32_bytes.size(); ++i) {
    const auto& [id, key] = id_and_32_bytes[i];
    if (!IsValidKeyId(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raw key #", i, ": invalid key id (", id.size(),
          " characters); a key id is 1-64 characters of [A-Za-z0-9._-]"));
    }
    if (key.size() != kKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raw key #", i, ": key '", id, "' has the wrong length: expected ",
          kKeyBytes, " bytes, got ", key.size()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (id_and_32_bytes[j].first == id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "raw key #", i, ": duplicate key id '", id, "' (also #", j, ")"));
      }
    }
  }
  absl::StatusOr<unsigned char*> region =
      AllocateKeyRegion(id_and_32_bytes.size());
  if (!region.ok()) return region.status();
  std::vector<std::string> ids;
  ids.reserve(id_and_32_bytes.size());
  for (size_t i = 0; i < id_and_32_bytes.size(); ++i) {
    std::memcpy(*region + i * kKeyBytes, id_and_32_bytes[i].second.data(),
                kKeyBytes);
    ids.push_back(id_and_32_bytes[i].first);
  }
  if (absl::Status s = LockKeyRegion(*region); !s.ok()) return s;
  return std::unique_ptr<Keyring>(new Keyring(std::move(ids), *region));
}

std::string Keyring::GenerateKeyLine(absl::string_view key_id) {
  (void)InitSodium();  // On failure randombytes_buf aborts; nothing to add.
  unsigned char key[kKeyBytes];
  randombytes_buf(key, sizeof(key));
  char
      b64[sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key, sizeof(key));
  const size_t b64_len = std::strlen(b64);
  std::string line;
  line.reserve(key_id.size() + 1 + b64_len);  // No reallocation below.
  line.append(key_id.data(), key_id.size());
  line.push_back(':');
  line.append(b64, b64_len);
  sodium_memzero(b64, sizeof(b64));
  return line;
}

Keyring::Keyring(std::vector<std::string> ids, unsigned char* keys)
    : ids_(std::move(ids)), keys_(keys) {}

Keyring::~Keyring() {
  // sodium_free makes the region writable, checks its canary, wipes it and
  // unmaps it, whatever its current protection.
  sodium_free(keys_);
}

bool Keyring::Contains(absl::string_view key_id) const {
  return IndexOf(key_id) >= 0;
}

int Keyring::IndexOf(absl::string_view key_id) const {
  // A keyring holds a few keys; a linear scan beats hashing.
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == key_id) return static_cast<int>(i);
  }
  return -1;
}

void Keyring::AcquireRead() const {
  absl::MutexLock lock(&mu_);
  ++readers_;
  used_since_check_ = true;
  if (readable_) return;
  if (sodium_mprotect_readonly(keys_) != 0) {
    // Continuing would fault on the first key read anyway.
    std::fprintf(stderr, "wxvault: sodium_mprotect_readonly failed: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  readable_ = true;
}

void Keyring::ReleaseRead() const {
  absl::MutexLock lock(&mu_);
  --readers_;
}

bool Keyring::ProtectIfIdle() const {
  absl::MutexLock lock(&mu_);
  const bool idle = readers_ == 0 && !used_since_check_;
  // An access still running counts as a use in the next period too.
  used_since_check_ = readers_ > 0;
  // Failure leaves the keys readable, which is the unprotected default of
  // ordinary memory; not worth crashing over. The next call tries again.
  if (readable_ && idle && sodium_mprotect_noaccess(keys_) == 0) readable_ = false;
  return !readable_;
}

Keyring::KeyAccess::KeyAccess(const Keyring& keyring) : keyring_(keyring) {
  keyring_.AcquireRead();
}

Keyring::KeyAccess::~KeyAccess() { keyring_.ReleaseRead(); }

const unsigned char* Keyring::KeyAccess::Find(absl::string_view key_id) const {
  const int i = keyring_.IndexOf(key_id);
  return i < 0 ? nullptr : keyring_.keys_ + static_cast<size_t>(i) * kKeyBytes;
}

const unsigned char* Keyring::KeyAccess::Active() const {
  return keyring_.keys_ + (keyring_.ids_.size() - 1) * kKeyBytes;
}

}  // namespace vault
}  // namespace wxvault
