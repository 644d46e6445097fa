// X25519 identity keys on libsodium; file checks are seal/key.cc's
// (LoadKeyFile), so a private key file and a preshared key file are checked
// the same way and fail with the same messages.
#include "identity/keys.h"

#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "seal/key.h"

namespace fstun {
namespace {

bool DecodeBase64Key(absl::string_view text, uint8_t* out) {
  InitSodium();
  size_t len = 0;
  const char* end = nullptr;
  int rc = sodium_base642bin(out, kX25519KeySize, text.data(), text.size(), " \t\r\n", &len, &end,
                             sodium_base64_VARIANT_ORIGINAL);
  return rc == 0 && len == kX25519KeySize && end == text.data() + text.size();
}

std::string EncodeBase64Key(const uint8_t* bytes) {
  char out[sodium_base64_ENCODED_LEN(kX25519KeySize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof(out), bytes, kX25519KeySize, sodium_base64_VARIANT_ORIGINAL);
  std::string s(out);
  sodium_memzero(out, sizeof(out));
  return s;
}

}  // namespace

PublicKey PublicKey::FromBytes(absl::Span<const uint8_t> bytes) {
  CHECK_EQ(bytes.size(), kX25519KeySize);
  PublicKey k;
  std::memcpy(k.bytes_.data(), bytes.data(), kX25519KeySize);
  return k;
}

absl::StatusOr<PublicKey> PublicKey::FromBase64(absl::string_view text) {
  PublicKey k;
  if (!DecodeBase64Key(text, k.bytes_.data())) {
    absl::string_view head = text.substr(0, 8);
    return absl::InvalidArgumentError(
        absl::StrCat("not a public key: '", head, text.size() > 8 ? "...'" : "'",
                     " (expected 44 base64 characters as printed by `fstun pubkey`)"));
  }
  return k;
}

std::string PublicKey::ToBase64() const { return EncodeBase64Key(bytes_.data()); }

std::string PublicKey::ShortString() const { return ToBase64().substr(0, 8) + "..."; }

bool PublicKey::is_zero() const { return sodium_is_zero(bytes_.data(), bytes_.size()) == 1; }

PrivateKey::PrivateKey() { bytes_.fill(0); }

PrivateKey::~PrivateKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

PrivateKey::PrivateKey(PrivateKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

PrivateKey PrivateKey::Generate() {
  InitSodium();
  PrivateKey k;
  randombytes_buf(k.bytes_.data(), k.bytes_.size());
  // RFC 7748 clamping, as `wg genkey` prints it (X25519 clamps anyway).
  k.bytes_[0] &= 248;
  k.bytes_[31] &= 127;
  k.bytes_[31] |= 64;
  return k;
}

absl::StatusOr<PrivateKey> PrivateKey::FromBase64(absl::string_view text) {
  PrivateKey k;
  if (!DecodeBase64Key(text, k.bytes_.data())) {
    return absl::InvalidArgumentError(
        "not a private key: expected 44 base64 characters as printed by `fstun genkey`");
  }
  return k;
}

PrivateKey PrivateKey::FromBytes(absl::Span<const uint8_t> bytes) {
  CHECK_EQ(bytes.size(), kX25519KeySize);
  PrivateKey k;
  std::memcpy(k.bytes_.data(), bytes.data(), kX25519KeySize);
  return k;
}

PublicKey PrivateKey::public_key() const {
  InitSodium();
  std::array<uint8_t, kX25519KeySize> pub;
  crypto_scalarmult_base(pub.data(), bytes_.data());
  return PublicKey::FromBytes(pub);
}

std::string PrivateKey::ToBase64() const { return EncodeBase64Key(bytes_.data()); }

absl::StatusOr<PrivateKey> LoadPrivateKeyFile(const std::string& path) {
  absl::StatusOr<Key> key = LoadKeyFile(path);
  if (!key.ok()) return key.status();
  return PrivateKey::FromBytes(key->bytes());
}

absl::StatusOr<std::string> PublicKeyOfPrivateText(absl::string_view text) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromBase64(text);
  if (!k.ok()) {
    return absl::InvalidArgumentError(
        "stdin does not hold a private key: expected 44 base64 characters as printed by "
        "`fstun genkey` (usage: fstun pubkey < private-key-file)");
  }
  return k->public_key().ToBase64();
}

}  // namespace fstun
