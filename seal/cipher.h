// Which AEAD a sender seals its frames with (--cipher), and whether this
// CPU computes AES in hardware.
//
// Every receiver opens both ciphers; each sender picks one for what it
// sends, so two peers need not agree and a mixed set of machines works.
// "auto" (the default) picks AES-256-GCM where the CPU has AES and
// carry-less multiplication instructions (x86-64: AES-NI and PCLMULQDQ;
// arm64: AES and PMULL), else ChaCha20-Poly1305, which is fast and constant
// time in software. Where each is used on the wire: identity/messages.h
// (per-peer sessions) and seal/sealed_frame.h (shared key).
#ifndef FSTUN_SEAL_CIPHER_H_
#define FSTUN_SEAL_CIPHER_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace fstun {
namespace aead {

enum class Cipher { kChaCha20Poly1305, kAes256Gcm };

// "chacha20-poly1305", "aes-256-gcm".
const char* CipherName(Cipher cipher);
// A --cipher value: "auto", or one of the names above.
std::optional<Cipher> ParseCipher(absl::string_view text);

bool HardwareAes();
// AES-256-GCM if HardwareAes(), else ChaCha20-Poly1305.
Cipher AutoCipher();

}  // namespace aead
}  // namespace fstun

#endif  // FSTUN_SEAL_CIPHER_H_
