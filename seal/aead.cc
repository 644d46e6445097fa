// The frame AEADs (aead.h). Theory of operation: one process-wide fetch of
// libcrypto's "ChaCha20-Poly1305" (InitAead), and per thread one encryption
// and one decryption context bound to it once; each call then only sets key
// and nonce on its context (EVP_CipherInit_ex2 with no cipher re-uses the
// provider's context: no allocation), feeds the associated data and the
// text, and reads or checks the tag. Small inputs take libsodium's one-shot
// functions. XChaCha derives its subkey with libsodium's HChaCha20 and wipes
// it after the call.
#include "seal/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <atomic>
#include <cstring>

#include "glog/logging.h"
#include "seal/evp_aead.h"
#include "seal/key.h"

namespace fstun {
namespace aead {
namespace {

static_assert(kKeySize == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
static_assert(kNonceSize == crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
static_assert(kXNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagSize == crypto_aead_chacha20poly1305_ietf_ABYTES);

std::atomic<Backend> g_backend{Backend::kAuto};

EVP_CIPHER* Cipher() {
  static EVP_CIPHER* const cipher = [] {
    // openssl.cnf is not read: the system's OpenSSL configuration (providers,
    // engines) has no say in how frames are sealed, and no file is opened.
    CHECK_EQ(OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr), 1)
        << "libcrypto did not initialise";
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    CHECK(c != nullptr) << "libcrypto has no ChaCha20-Poly1305";
    return c;
  }();
  return cipher;
}

// This thread's contexts, bound to the cipher on first use.
class Contexts {
 public:
  Contexts() : seal_(EVP_CIPHER_CTX_new()), open_(EVP_CIPHER_CTX_new()) {
    CHECK(seal_ != nullptr && open_ != nullptr) << "out of memory";
    CHECK_EQ(EVP_EncryptInit_ex2(seal_, Cipher(), nullptr, nullptr, nullptr), 1);
    CHECK_EQ(EVP_DecryptInit_ex2(open_, Cipher(), nullptr, nullptr, nullptr), 1);
  }
  ~Contexts() {
    EVP_CIPHER_CTX_free(seal_);
    EVP_CIPHER_CTX_free(open_);
  }
  Contexts(const Contexts&) = delete;
  Contexts& operator=(const Contexts&) = delete;

  EVP_CIPHER_CTX* seal() { return seal_; }
  EVP_CIPHER_CTX* open() { return open_; }

 private:
  EVP_CIPHER_CTX* const seal_;
  EVP_CIPHER_CTX* const open_;
};

Contexts& ThreadContexts() {
  thread_local Contexts contexts;
  return contexts;
}

bool UseLibcrypto(size_t size) {
  switch (g_backend.load(std::memory_order_relaxed)) {
    case Backend::kLibsodium:
      return false;
    case Backend::kLibcrypto:
      return true;
    case Backend::kAuto:
      break;
  }
  return size >= kLargeInput;
}

void LibcryptoSeal(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> plain,
                   absl::Span<const uint8_t> ad, uint8_t* out) {
  EvpSeal(ThreadContexts().seal(), key, nonce, plain, ad, out);
}

bool LibcryptoOpen(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                   absl::Span<const uint8_t> ad, uint8_t* out) {
  return EvpOpen(ThreadContexts().open(), key, nonce, sealed, ad, out);
}

// XChaCha20-Poly1305 = ChaCha20-Poly1305 under HChaCha20(key, nonce[0..16))
// with nonce 0^4 || nonce[16..24).
struct XSubkey {
  XSubkey(const uint8_t* key, const uint8_t* nonce) {
    crypto_core_hchacha20(subkey, nonce, key, nullptr);
    std::memset(nonce12, 0, 4);
    std::memcpy(nonce12 + 4, nonce + 16, 8);
  }
  ~XSubkey() { sodium_memzero(subkey, sizeof(subkey)); }
  uint8_t subkey[kKeySize];
  uint8_t nonce12[kNonceSize];
};

}  // namespace

void InitAesGcm();  // aes_gcm.cc

void InitAead() {
  InitSodium();
  Cipher();
  InitAesGcm();
}

void SetBackendForTest(Backend backend) { g_backend.store(backend); }

void ChaChaPolySeal(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> plain,
                    absl::Span<const uint8_t> ad, uint8_t* out) {
  if (UseLibcrypto(plain.size())) return LibcryptoSeal(key, nonce, plain, ad, out);
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &len, plain.data(), plain.size(), ad.data(),
                                            ad.size(), nullptr, nonce, key);
}

bool ChaChaPolyOpen(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                    absl::Span<const uint8_t> ad, uint8_t* out) {
  if (sealed.size() < kTagSize) return false;
  if (UseLibcrypto(sealed.size() - kTagSize)) return LibcryptoOpen(key, nonce, sealed, ad, out);
  unsigned long long len = 0;
  // libsodium verifies before it decrypts: nothing is written on failure.
  return crypto_aead_chacha20poly1305_ietf_decrypt(out, &len, nullptr, sealed.data(), sealed.size(),
                                                   ad.data(), ad.size(), nonce, key) == 0;
}

void XChaChaPolySeal(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> plain,
                     absl::Span<const uint8_t> ad, uint8_t* out) {
  if (!UseLibcrypto(plain.size())) {
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &len, plain.data(), plain.size(), ad.data(),
                                               ad.size(), nullptr, nonce, key);
    return;
  }
  XSubkey x(key, nonce);
  LibcryptoSeal(x.subkey, x.nonce12, plain, ad, out);
}

bool XChaChaPolyOpen(const uint8_t* key, const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                     absl::Span<const uint8_t> ad, uint8_t* out) {
  if (sealed.size() < kTagSize) return false;
  if (!UseLibcrypto(sealed.size() - kTagSize)) {
    unsigned long long len = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &len, nullptr, sealed.data(),
                                                      sealed.size(), ad.data(), ad.size(), nonce,
                                                      key) == 0;
  }
  XSubkey x(key, nonce);
  return LibcryptoOpen(x.subkey, x.nonce12, sealed, ad, out);
}

}  // namespace aead
}  // namespace fstun
