// The AEADs that seal fstun's frames, bit for bit libsodium's:
//
//   ChaChaPolySeal/Open    ChaCha20-Poly1305 (RFC 8439), 12-byte nonce:
//                          crypto_aead_chacha20poly1305_ietf (per-peer
//                          sessions, identity/peer_crypto.h)
//   XChaChaPolySeal/Open   XChaCha20-Poly1305, 24-byte nonce:
//                          crypto_aead_xchacha20poly1305_ietf (the shared-key
//                          sealed frames, seal/sealed_frame.h)
//
// Why not call libsodium directly: these run once per frame on the pump's
// thread, and frames are up to 64 KiB super-packets. libsodium 1.0.18
// (Debian 12) seals ~0.9 GB/s at 64 KiB on the benchmark machine; OpenSSL's
// libcrypto (3.0, its AVX-512/AVX2 ChaCha20 and Poly1305) ~3.2 GB/s: the
// same construction, so nothing changes on the wire and peers of older
// builds interoperate. Inputs below kLargeInput still go to libsodium, which
// has no context to set up and is as fast for a few hundred bytes.
// XChaCha20-Poly1305 is ChaCha20-Poly1305 under the subkey
// HChaCha20(key, nonce[0..16)) with nonce 0^4 || nonce[16..24) (the
// XChaCha draft, draft-irtf-cfrg-xchacha-03 section 2.3; libsodium computes
// it the same way), so only HChaCha20 comes from libsodium there.
//
// Open verifies the tag; libcrypto decrypts while it authenticates, so on
// failure `out` is wiped (zeros): it never holds plaintext of a frame that
// did not authenticate. `out` may equal the input (in place), but must not
// overlap it otherwise.
//
// Threads: any; each thread keeps its own two libcrypto contexts (made on
// its first large input, freed when it exits), so no call allocates after
// that. InitAead loads libcrypto's default provider, without reading
// openssl.cnf; call it before a seccomp filter is installed (the sealing
// layers' constructors do).
#ifndef FSTUN_SEAL_AEAD_H_
#define FSTUN_SEAL_AEAD_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace fstun {
namespace aead {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kNonceSize = 12;   // ChaCha20-Poly1305
inline constexpr size_t kXNonceSize = 24;  // XChaCha20-Poly1305
// From this many plaintext bytes on, libcrypto does the work.
inline constexpr size_t kLargeInput = 512;

// Initialises libsodium, libcrypto and ipsec-mb (idempotent, thread-safe),
// for these functions and seal/aes_gcm.h. Aborts if libcrypto has no
// ChaCha20-Poly1305 or AES-256-GCM.
void InitAead();

// Writes plain.size() + kTagSize bytes to `out`.
void ChaChaPolySeal(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> plain,
                    absl::Span<const uint8_t> ad, uint8_t* out);
// `sealed` is ciphertext || tag; writes sealed.size() - kTagSize bytes to
// `out` and returns true if it authenticates, else false with `out` wiped.
bool ChaChaPolyOpen(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                    absl::Span<const uint8_t> ad, uint8_t* out);

void XChaChaPolySeal(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> plain,
                     absl::Span<const uint8_t> ad, uint8_t* out);
bool XChaChaPolyOpen(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                     absl::Span<const uint8_t> ad, uint8_t* out);

// Tests and benchmarks: force one implementation for every size (kAuto: the
// default, libcrypto from kLargeInput bytes on).
enum class Backend { kAuto, kLibsodium, kLibcrypto };
void SetBackendForTest(Backend backend);

}  // namespace aead
}  // namespace fstun

#endif  // FSTUN_SEAL_AEAD_H_
