#include "seal/cipher.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace fstun {
namespace aead {

const char* CipherName(Cipher cipher) {
  switch (cipher) {
    case Cipher::kChaCha20Poly1305:
      return "chacha20-poly1305";
    case Cipher::kAes256Gcm:
      return "aes-256-gcm";
  }
  return "unknown";
}

std::optional<Cipher> ParseCipher(absl::string_view text) {
  if (text == "auto") return AutoCipher();
  for (Cipher c : {Cipher::kChaCha20Poly1305, Cipher::kAes256Gcm}) {
    if (text == CipherName(c)) return c;
  }
  return std::nullopt;
}

bool HardwareAes() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__)
  const unsigned long caps = getauxval(AT_HWCAP);
  return (caps & HWCAP_AES) != 0 && (caps & HWCAP_PMULL) != 0;
#else
  return false;
#endif
}

Cipher AutoCipher() { return HardwareAes() ? Cipher::kAes256Gcm : Cipher::kChaCha20Poly1305; }

}  // namespace aead
}  // namespace fstun
