// Per-peer identity keys (issue 12): each peer has its own X25519 private
// key and lists the public keys of the peers it accepts, as WireGuard does.
//
//   fstun genkey > /etc/fstun/private && chmod 600 /etc/fstun/private
//   fstun pubkey < /etc/fstun/private      # give this line to the peers
//
//   absl::StatusOr<PrivateKey> me = LoadPrivateKeyFile("/etc/fstun/private");
//   PublicKey mine = me->public_key();
//   absl::StatusOr<PublicKey> peer = PublicKey::FromBase64("xTIB...=");
//
// Both are 32 bytes, printed as 44 characters of standard base64 (the format
// of `wg genkey` / `wg pubkey`). A private key never reaches a log: it has no
// operator<< (streaming one does not compile), DebugString() is a fixed
// placeholder, and its bytes are wiped when it is destroyed or moved from.
// A public key is not secret and prints as its base64.
#ifndef FSTUN_IDENTITY_KEYS_H_
#define FSTUN_IDENTITY_KEYS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fstun {

inline constexpr size_t kX25519KeySize = 32;  // crypto_scalarmult_BYTES

class PublicKey {
 public:
  PublicKey() { bytes_.fill(0); }
  static PublicKey FromBytes(absl::Span<const uint8_t> bytes);  // must be 32 bytes
  // 44 base64 characters as `fstun pubkey` prints; surrounding whitespace is
  // ignored. The error quotes at most the first 8 characters.
  static absl::StatusOr<PublicKey> FromBase64(absl::string_view text);

  std::string ToBase64() const;
  // The first 8 base64 characters and "…": enough to tell peers apart in logs.
  std::string ShortString() const;
  absl::Span<const uint8_t> bytes() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  bool is_zero() const;

  bool operator==(const PublicKey& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const PublicKey& o) const { return bytes_ != o.bytes_; }
  template <typename H>
  friend H AbslHashValue(H h, const PublicKey& k) {
    return H::combine_contiguous(std::move(h), k.bytes_.data(), k.bytes_.size());
  }

 private:
  std::array<uint8_t, kX25519KeySize> bytes_;
};

class PrivateKey {
 public:
  // A new key from libsodium's CSPRNG, clamped as X25519 (and `wg genkey`)
  // clamp private keys.
  static PrivateKey Generate();
  // Parses what `fstun genkey` prints. The error never echoes the text.
  static absl::StatusOr<PrivateKey> FromBase64(absl::string_view text);
  static PrivateKey FromBytes(absl::Span<const uint8_t> bytes);  // must be 32 bytes

  PrivateKey(PrivateKey&& other) noexcept;
  PrivateKey& operator=(PrivateKey&& other) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;
  ~PrivateKey();

  // X25519 base-point multiplication: the public key for the peers.
  PublicKey public_key() const;
  // For `fstun genkey` only.
  std::string ToBase64() const;
  absl::Span<const uint8_t> bytes() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  std::string DebugString() const { return "PrivateKey(redacted)"; }

  friend std::ostream& operator<<(std::ostream&, const PrivateKey&) = delete;

 private:
  PrivateKey();
  std::array<uint8_t, kX25519KeySize> bytes_;
};

// Reads a private key file with the checks seal/key.h applies to key files:
// a regular file owned by the running user, mode 0600 or 0400, holding 44
// base64 characters. Errors are one line naming the file and the fix.
absl::StatusOr<PrivateKey> LoadPrivateKeyFile(const std::string& path);

// `fstun pubkey`: the public key (base64, no newline) of the private key in
// `text` (what `fstun genkey` printed), or InvalidArgument with a one-line
// message that never echoes the input.
absl::StatusOr<std::string> PublicKeyOfPrivateText(absl::string_view text);

}  // namespace fstun

#endif  // FSTUN_IDENTITY_KEYS_H_
