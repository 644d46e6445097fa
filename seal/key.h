// Key: the 256-bit symmetric key that seals frames (see seal/sealed_frame.h).
//
// Every peer of a tunnel holds the same key, in a file only its owner can
// read. `fstun genkey` prints a new one in the format `wg genkey` uses
// (44 characters of standard base64):
//
//   fstun genkey > /etc/fstun/key && chmod 600 /etc/fstun/key
//   absl::StatusOr<Key> key = LoadKeyFile("/etc/fstun/key");
//
// The key never reaches a log: Key has no operator<< (streaming one does not
// compile) and DebugString() prints a fixed placeholder. Its bytes are wiped
// with sodium_memzero when a Key is destroyed or moved from.
#ifndef FSTUN_SEAL_KEY_H_
#define FSTUN_SEAL_KEY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fstun {

class Key {
 public:
  static constexpr size_t kSize = 32;  // crypto_aead_xchacha20poly1305_ietf_KEYBYTES

  // A new random key from libsodium's CSPRNG (getrandom()).
  static Key Generate();
  // Parses the base64 text `fstun genkey` prints; surrounding whitespace is
  // ignored. The error never echoes the text.
  static absl::StatusOr<Key> FromBase64(absl::string_view text);

  Key(Key&& other) noexcept;
  Key& operator=(Key&& other) noexcept;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key();

  // The key as base64, for `fstun genkey` only.
  std::string ToBase64() const;
  absl::Span<const uint8_t> bytes() const { return bytes_; }
  // "Key(redacted)": safe to log.
  std::string DebugString() const { return "Key(redacted)"; }

  // Logging a key is a bug: make it a compile error.
  friend std::ostream& operator<<(std::ostream&, const Key&) = delete;

 private:
  Key();
  std::array<uint8_t, kSize> bytes_;
};

// Reads a key file. The file must be a regular file owned by the running
// (effective) user with no group or other permission bits (mode 0600 or
// 0400), as with ssh private keys; otherwise the error names the file and
// the command that fixes it ("chmod 600 PATH").
absl::StatusOr<Key> LoadKeyFile(const std::string& path);

// Makes sure libsodium is initialised (idempotent, thread-safe). Aborts if
// libsodium cannot initialise (no usable random source).
void InitSodium();

}  // namespace fstun

#endif  // FSTUN_SEAL_KEY_H_
