// One AEAD call through OpenSSL's EVP interface, for the libcrypto code
// paths of aead.cc (ChaCha20-Poly1305) and aes_gcm.cc (AES-256-GCM): the
// sequence is the same for every AEAD libcrypto has. Internal to //seal:aead.
#ifndef FSTUN_SEAL_EVP_AEAD_H_
#define FSTUN_SEAL_EVP_AEAD_H_

#include <openssl/evp.h>

#include <cstdint>

#include "absl/types/span.h"

namespace fstun {
namespace aead {

// `ctx` is bound to its cipher (and, with key == nullptr, to the key);
// `key` and `nonce` are set on it for this call. Writes plain.size() + 16
// bytes to `out`. Aborts on misuse (lengths out of range) rather than send
// a frame sealed wrong.
void EvpSeal(EVP_CIPHER_CTX* ctx, const uint8_t* key, const uint8_t* nonce,
             absl::Span<const uint8_t> plain, absl::Span<const uint8_t> ad, uint8_t* out);
// `sealed` is ciphertext || 16-byte tag, at least 16 bytes. True if it
// authenticates; else false with `out` wiped (libcrypto decrypts while it
// authenticates). `out` may equal sealed.data().
bool EvpOpen(EVP_CIPHER_CTX* ctx, const uint8_t* key, const uint8_t* nonce,
             absl::Span<const uint8_t> sealed, absl::Span<const uint8_t> ad, uint8_t* out);

}  // namespace aead
}  // namespace fstun

#endif  // FSTUN_SEAL_EVP_AEAD_H_
