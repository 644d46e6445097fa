// AES-256-GCM and XAES-256-GCM under a key prepared once: the frame AEADs
// fstun seals with on machines that have AES in hardware (seal/cipher.h
// says which cipher a sender uses; receivers open both).
//
//   AesGcmKey    AES-256-GCM (NIST SP 800-38D): 12-byte nonce, 16-byte tag.
//                Noise's AESGCM cipher; the per-peer sessions use it with
//                Noise's nonce, 4 zero bytes || the counter big-endian.
//   XAesGcmKey   XAES-256-GCM (C2SP, XAES-256-GCM.md): 24-byte nonce.
//                AES-256-GCM under a subkey derived from the key and the
//                nonce's first 12 bytes (NIST SP 800-108r1 counter-mode KDF
//                with AES-256-CMAC), with the nonce's last 12 bytes. For a
//                key shared by many senders, as the shared-key sealed frames
//                are (seal/sealed_frame.h), where XChaCha20-Poly1305 is the
//                other choice. Subkeys are kept (the last kCachedSubkeys): a
//                sender's frames share their first 12 nonce bytes, so a
//                subkey is derived once per sender session, not per frame.
//
// Why these, and who computes them: at 64 KiB a frame, libcrypto's
// ChaCha20-Poly1305 costs ~16 us and its AES-256-GCM ~15 us here (OpenSSL
// 3.0 has no VAES code path), Intel's ipsec-mb (Debian's libipsec-mb,
// x86-64) ~4-5 us with VAES and AVX-512, and its AVX2/SSE code still about
// libcrypto's: on the benchmark machine that is the difference between a
// keyed tunnel at ~80% and at ~95% of the unkeyed one (docs/security.md,
// "Cost"). ipsec-mb serves every call when the build has it and the CPU has
// AES-NI and PCLMULQDQ; otherwise libcrypto's AES-256-GCM does (constant
// time on every CPU it supports, fast with AES-NI or ARMv8's AES). Both give
// the same bytes: aes_gcm_test checks them against each other and against
// the published test vectors.
//
// Open verifies the tag in constant time; on failure `out` is wiped (the
// text was decrypted while it was authenticated). `out` may equal the input
// (in place) but must not overlap it otherwise. A key object is used by one
// thread at a time (it keeps a libcrypto context, and XAesGcmKey its
// subkeys); its memory is wiped when it is destroyed. Call aead::InitAead()
// before a seccomp filter is installed.
#ifndef FSTUN_SEAL_AES_GCM_H_
#define FSTUN_SEAL_AES_GCM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fstun {
namespace aead {

inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kXAesNonceSize = 24;

class AesGcmKey {
 public:
  // `key`: 32 bytes.
  explicit AesGcmKey(const uint8_t* key);
  // A key of AES's own: BLAKE2b-256 keyed with `key` over `label`, so that
  // no key serves two algorithms.
  static std::unique_ptr<AesGcmKey> Derived(absl::Span<const uint8_t> key, absl::string_view label);
  ~AesGcmKey();
  AesGcmKey(const AesGcmKey&) = delete;
  AesGcmKey& operator=(const AesGcmKey&) = delete;

  // Writes plain.size() + 16 bytes (ciphertext || tag) to `out`.
  void Seal(const uint8_t* nonce, absl::Span<const uint8_t> plain, absl::Span<const uint8_t> ad,
            uint8_t* out) const;
  // `sealed` is ciphertext || tag; writes sealed.size() - 16 bytes to `out`
  // and returns true if it authenticates, else false with `out` wiped.
  bool Open(const uint8_t* nonce, absl::Span<const uint8_t> sealed, absl::Span<const uint8_t> ad,
            uint8_t* out) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

class XAesGcmKey {
 public:
  // Subkeys kept; with more senders than this taking turns, each frame
  // costs a derivation (~1 us) on top.
  static constexpr size_t kCachedSubkeys = 16;

  explicit XAesGcmKey(const uint8_t* key);  // 32 bytes
  // As AesGcmKey::Derived.
  static std::unique_ptr<XAesGcmKey> Derived(absl::Span<const uint8_t> key,
                                             absl::string_view label);
  ~XAesGcmKey();
  XAesGcmKey(const XAesGcmKey&) = delete;
  XAesGcmKey& operator=(const XAesGcmKey&) = delete;

  void Seal(const uint8_t* nonce, absl::Span<const uint8_t> plain, absl::Span<const uint8_t> ad,
            uint8_t* out);
  bool Open(const uint8_t* nonce, absl::Span<const uint8_t> sealed, absl::Span<const uint8_t> ad,
            uint8_t* out);

 private:
  // The AES-256-GCM key for nonces starting with `prefix`.
  const AesGcmKey& SubkeyFor(const uint8_t* prefix);

  struct Cached {
    std::array<uint8_t, 12> prefix;
    std::unique_ptr<AesGcmKey> key;
  };
  std::array<uint8_t, 32> key_;
  std::array<uint8_t, 16> k1_;  // the CMAC subkey K1 of key_
  std::vector<Cached> cache_;   // at most kCachedSubkeys
  size_t next_evict_ = 0;
};

// Tests and benchmarks: which code computes AES-256-GCM from now on
// (kAuto: ipsec-mb where it can, else libcrypto). Affects keys made after
// the call. kIpsecMb where the build or CPU lacks it means kLibcrypto.
enum class AesBackend { kAuto, kLibcrypto, kIpsecMb };
void SetAesBackendForTest(AesBackend backend);
// The backend new keys get (kIpsecMb or kLibcrypto).
AesBackend ActiveAesBackend();

}  // namespace aead
}  // namespace fstun

#endif  // FSTUN_SEAL_AES_GCM_H_
