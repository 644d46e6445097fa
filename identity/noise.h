// The Noise primitives of fstun's handshake (docs/security.md, "Handshake"):
// the functions the Noise Protocol Framework (revision 34) names, for the
// suite Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b, on libsodium.
//
//   HASH      BLAKE2b-512 (crypto_generichash; HASHLEN 64, BLOCKLEN 128)
//   HMAC      RFC 2104 over HASH (hand-built: libsodium has keyed BLAKE2b,
//             which is not HMAC, and Noise's HKDF is defined over HMAC)
//   HKDF      Noise section 4.3 (up to three outputs)
//   DH        X25519 (crypto_scalarmult); an all-zero result (a low-order
//             public key) is refused
//   AEAD      ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || 64-bit
//             little-endian counter (Noise section 12.3)
//
// WireGuard uses BLAKE2s, which libsodium lacks; BLAKE2b is the other hash
// Noise defines. With HASHLEN 64 the chaining key and transcript hash are 64
// bytes and cipher keys are the first 32 bytes of an HKDF output (Noise 5.2,
// MixKey: "if HASHLEN is 64, temp_k is truncated to 32 bytes").
//
// SymmetricState is Noise's object of that name (ck, h, k, n): the handshake
// (identity/handshake.cc) is written as the pattern's tokens on top of it.
#ifndef FSTUN_IDENTITY_NOISE_H_
#define FSTUN_IDENTITY_NOISE_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fstun {
namespace noise {

inline constexpr size_t kHashLen = 64;
inline constexpr size_t kBlockLen = 128;
inline constexpr size_t kKeyLen = 32;
inline constexpr size_t kTagLen = 16;
inline constexpr size_t kDhLen = 32;

using HashValue = std::array<uint8_t, kHashLen>;
using CipherKey = std::array<uint8_t, kKeyLen>;

HashValue Hash(absl::Span<const uint8_t> data);
HashValue Hmac(absl::Span<const uint8_t> key, absl::Span<const uint8_t> data);
// Noise's HKDF(chaining_key, input_key_material, num_outputs): fills the
// non-null outputs in order (out1 required).
void Hkdf(const HashValue& chaining_key, absl::Span<const uint8_t> ikm, HashValue* out1,
          HashValue* out2, HashValue* out3 = nullptr);
// X25519. False if the result is all zeros (low-order point): the peer's
// public key is invalid and the message must be refused.
bool Dh(const uint8_t* private_key, const uint8_t* public_key, uint8_t* out);
// Encrypts `plain` into `out` (plain.size() + kTagLen bytes).
void AeadEncrypt(const CipherKey& key, uint64_t counter, absl::Span<const uint8_t> plain,
                 absl::Span<const uint8_t> ad, uint8_t* out);
// Decrypts `cipher` (with its tag) into `out` (cipher.size() - kTagLen
// bytes); false, with nothing meaningful in `out`, if it does not verify.
bool AeadDecrypt(const CipherKey& key, uint64_t counter, absl::Span<const uint8_t> cipher,
                 absl::Span<const uint8_t> ad, uint8_t* out);

// CipherKey from the first 32 bytes of an HKDF output.
CipherKey Truncate(const HashValue& v);

// Noise's SymmetricState. Every key it derives is wiped on destruction.
class SymmetricState {
 public:
  // InitializeSymmetric(protocol_name) then MixHash(prologue).
  SymmetricState(absl::string_view protocol_name, absl::string_view prologue);
  ~SymmetricState();
  SymmetricState(const SymmetricState&) = default;
  SymmetricState& operator=(const SymmetricState&) = default;

  void MixHash(absl::Span<const uint8_t> data);
  void MixKey(absl::Span<const uint8_t> ikm);
  void MixKeyAndHash(absl::Span<const uint8_t> ikm);
  // Writes plain.size() + kTagLen bytes (plain.size() before the first
  // MixKey: Noise sends such payloads in clear; fstun's handshake never
  // does, but the test vectors do).
  void EncryptAndHash(absl::Span<const uint8_t> plain, uint8_t* out);
  bool DecryptAndHash(absl::Span<const uint8_t> cipher, uint8_t* out);
  // Split(): the initiator's sending key first.
  void Split(CipherKey* first, CipherKey* second) const;

  const HashValue& h() const { return h_; }

 private:
  HashValue ck_;
  HashValue h_;
  CipherKey k_;
  uint64_t n_ = 0;
  bool has_key_ = false;
};

}  // namespace noise
}  // namespace fstun

#endif  // FSTUN_IDENTITY_NOISE_H_
