// AES-256-GCM and XAES-256-GCM (aes_gcm.h). Theory of operation: a key
// object is made once per session key (per-peer) or per shared key, and
// holds what each call would otherwise recompute: for ipsec-mb the
// expanded AES key and the GHASH key powers (IMB_AES256_GCM_PRE, ~1 KiB,
// 64-byte aligned), for libcrypto two contexts with the key set, so a call
// only sets the nonce. ipsec-mb's manager is made once per process
// (InitAesGcm, from aead::InitAead); its GCM functions keep no state in it,
// so one serves every thread. XAES derives its subkey with three AES-256
// block encryptions (libcrypto's AES-256-ECB) and keeps the last few
// (one per sender session), replaced in turn.
#include "seal/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <atomic>
#include <cstring>
#include <new>

#include "glog/logging.h"
#include "seal/cipher.h"
#include "seal/evp_aead.h"

#if defined(FSTUN_HAVE_IPSEC_MB)
// The header gives its key and context structs their 64-byte alignment
// only when LINUX is defined; the library was built that way.
#ifndef LINUX
#define LINUX 1
#endif
#include <intel-ipsec-mb.h>
static_assert(alignof(gcm_key_data) == 64, "ipsec-mb key data must be 64-byte aligned");
#endif

namespace fstun {
namespace aead {

void InitAesGcm();  // aead.cc's InitAead calls it

namespace {

constexpr size_t kTag = 16;

std::atomic<AesBackend> g_backend{AesBackend::kAuto};

EVP_CIPHER* FetchCipher(const char* name) {
  EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, name, nullptr);
  CHECK(c != nullptr) << "libcrypto has no " << name;
  return c;
}

EVP_CIPHER* Gcm() {
  static EVP_CIPHER* const c = FetchCipher("AES-256-GCM");
  return c;
}

EVP_CIPHER* Ecb() {
  static EVP_CIPHER* const c = FetchCipher("AES-256-ECB");
  return c;
}

#if defined(FSTUN_HAVE_IPSEC_MB)
// nullptr: ipsec-mb cannot serve here (no AES-NI/PCLMULQDQ, or it failed).
IMB_MGR* Manager() {
  static IMB_MGR* const mgr = []() -> IMB_MGR* {
    if (!HardwareAes()) return nullptr;
    IMB_MGR* m = alloc_mb_mgr(0);
    if (m == nullptr) return nullptr;
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(m, &arch);
    if (imb_get_errno(m) != 0 || arch < IMB_ARCH_SSE) {
      free_mb_mgr(m);
      return nullptr;
    }
    return m;
  }();
  return mgr;
}
#endif

bool UseIpsecMb() {
#if defined(FSTUN_HAVE_IPSEC_MB)
  return g_backend.load() != AesBackend::kLibcrypto && Manager() != nullptr;
#else
  return false;
#endif
}

// AES-256 of 16-byte blocks under `key` (XAES's KDF).
void EncryptBlocks(const uint8_t* key, const uint8_t* in, size_t blocks, uint8_t* out) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  CHECK(ctx != nullptr) << "out of memory";
  int n = 0;
  CHECK_EQ(EVP_EncryptInit_ex2(ctx, Ecb(), key, nullptr, nullptr), 1);
  CHECK_EQ(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
  CHECK_EQ(EVP_EncryptUpdate(ctx, out, &n, in, static_cast<int>(16 * blocks)), 1);
  CHECK_EQ(static_cast<size_t>(n), 16 * blocks);
  EVP_CIPHER_CTX_free(ctx);  // clears the key schedule
}

// BLAKE2b-256 keyed with `key` over `label`, made into a K; the bytes are wiped.
template <typename K>
std::unique_ptr<K> DerivedKey(absl::Span<const uint8_t> key, absl::string_view label) {
  uint8_t k[32];
  crypto_generichash(k, sizeof(k), reinterpret_cast<const uint8_t*>(label.data()), label.size(),
                     key.data(), key.size());
  auto made = std::make_unique<K>(k);
  sodium_memzero(k, sizeof(k));
  return made;
}

}  // namespace

void InitAesGcm() {
  Gcm();
  Ecb();
#if defined(FSTUN_HAVE_IPSEC_MB)
  Manager();
#endif
}

void SetAesBackendForTest(AesBackend backend) { g_backend.store(backend); }

AesBackend ActiveAesBackend() {
  return UseIpsecMb() ? AesBackend::kIpsecMb : AesBackend::kLibcrypto;
}

struct AesGcmKey::Impl {
#if defined(FSTUN_HAVE_IPSEC_MB)
  std::unique_ptr<gcm_key_data> ipsec;  // set: ipsec-mb computes
#endif
  EVP_CIPHER_CTX* seal = nullptr;  // else libcrypto, key set once
  EVP_CIPHER_CTX* open = nullptr;
};

AesGcmKey::AesGcmKey(const uint8_t* key) : impl_(std::make_unique<Impl>()) {
#if defined(FSTUN_HAVE_IPSEC_MB)
  if (UseIpsecMb()) {
    impl_->ipsec = std::make_unique<gcm_key_data>();
    IMB_AES256_GCM_PRE(Manager(), key, impl_->ipsec.get());
    return;
  }
#endif
  impl_->seal = EVP_CIPHER_CTX_new();
  impl_->open = EVP_CIPHER_CTX_new();
  CHECK(impl_->seal != nullptr && impl_->open != nullptr) << "out of memory";
  CHECK_EQ(EVP_EncryptInit_ex2(impl_->seal, Gcm(), key, nullptr, nullptr), 1);
  CHECK_EQ(EVP_DecryptInit_ex2(impl_->open, Gcm(), key, nullptr, nullptr), 1);
}

std::unique_ptr<AesGcmKey> AesGcmKey::Derived(absl::Span<const uint8_t> key,
                                              absl::string_view label) {
  return DerivedKey<AesGcmKey>(key, label);
}

AesGcmKey::~AesGcmKey() {
#if defined(FSTUN_HAVE_IPSEC_MB)
  if (impl_->ipsec != nullptr) sodium_memzero(impl_->ipsec.get(), sizeof(gcm_key_data));
#endif
  EVP_CIPHER_CTX_free(impl_->seal);  // libcrypto clears what it held
  EVP_CIPHER_CTX_free(impl_->open);
}

void AesGcmKey::Seal(const uint8_t* nonce, absl::Span<const uint8_t> plain,
                     absl::Span<const uint8_t> ad, uint8_t* out) const {
#if defined(FSTUN_HAVE_IPSEC_MB)
  if (impl_->ipsec != nullptr) {
    gcm_context_data ctx;
    IMB_AES256_GCM_ENC(Manager(), impl_->ipsec.get(), &ctx, out, plain.data(), plain.size(), nonce,
                       ad.data(), ad.size(), out + plain.size(), kTag);
    return;
  }
#endif
  EvpSeal(impl_->seal, nullptr, nonce, plain, ad, out);
}

bool AesGcmKey::Open(const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                     absl::Span<const uint8_t> ad, uint8_t* out) const {
  if (sealed.size() < kTag) return false;
#if defined(FSTUN_HAVE_IPSEC_MB)
  if (impl_->ipsec != nullptr) {
    const size_t size = sealed.size() - kTag;
    // The tag is copied first: in place, the text is overwritten, never the
    // tag behind it, but the copy keeps that obvious.
    uint8_t tag[kTag];
    std::memcpy(tag, sealed.data() + size, kTag);
    gcm_context_data ctx;
    uint8_t computed[kTag];
    IMB_AES256_GCM_DEC(Manager(), impl_->ipsec.get(), &ctx, out, sealed.data(), size, nonce,
                       ad.data(), ad.size(), computed, kTag);
    if (CRYPTO_memcmp(computed, tag, kTag) != 0) {
      if (size > 0) sodium_memzero(out, size);
      return false;
    }
    return true;
  }
#endif
  return EvpOpen(impl_->open, nullptr, nonce, sealed, ad, out);
}

XAesGcmKey::XAesGcmKey(const uint8_t* key) {
  std::memcpy(key_.data(), key, key_.size());
  // CMAC's K1 (RFC 4493): L = AES(K, 0^128), K1 = L << 1, xor 0x87 if the
  // bit shifted out was set.
  uint8_t zero[16] = {}, l[16];
  EncryptBlocks(key_.data(), zero, 1, l);
  for (int i = 0; i < 16; ++i) {
    k1_[i] = static_cast<uint8_t>((l[i] << 1) | (i < 15 ? l[i + 1] >> 7 : 0));
  }
  if (l[0] & 0x80) k1_[15] ^= 0x87;
  sodium_memzero(l, sizeof(l));
}

std::unique_ptr<XAesGcmKey> XAesGcmKey::Derived(absl::Span<const uint8_t> key,
                                                absl::string_view label) {
  return DerivedKey<XAesGcmKey>(key, label);
}

XAesGcmKey::~XAesGcmKey() {
  sodium_memzero(key_.data(), key_.size());
  sodium_memzero(k1_.data(), k1_.size());
}

const AesGcmKey& XAesGcmKey::SubkeyFor(const uint8_t* prefix) {
  for (const Cached& c : cache_) {
    if (std::memcmp(c.prefix.data(), prefix, c.prefix.size()) == 0) return *c.key;
  }
  // Kx = AES(K, M1 ^ K1) || AES(K, M2 ^ K1), Mi = 0x00 || i || "X" || 0x00 || N[0..12).
  uint8_t m[32], kx[32];
  for (int i = 0; i < 2; ++i) {
    uint8_t* b = m + 16 * i;
    b[0] = 0x00;
    b[1] = static_cast<uint8_t>(i + 1);
    b[2] = 'X';
    b[3] = 0x00;
    std::memcpy(b + 4, prefix, 12);
    for (int j = 0; j < 16; ++j) b[j] ^= k1_[j];
  }
  EncryptBlocks(key_.data(), m, 2, kx);
  Cached fresh;
  std::memcpy(fresh.prefix.data(), prefix, fresh.prefix.size());
  fresh.key = std::make_unique<AesGcmKey>(kx);
  sodium_memzero(kx, sizeof(kx));
  sodium_memzero(m, sizeof(m));
  if (cache_.size() < kCachedSubkeys) {
    cache_.push_back(std::move(fresh));
    return *cache_.back().key;
  }
  Cached& slot = cache_[next_evict_];
  next_evict_ = (next_evict_ + 1) % kCachedSubkeys;
  slot = std::move(fresh);
  return *slot.key;
}

void XAesGcmKey::Seal(const uint8_t* nonce, absl::Span<const uint8_t> plain,
                      absl::Span<const uint8_t> ad, uint8_t* out) {
  SubkeyFor(nonce).Seal(nonce + 12, plain, ad, out);
}

bool XAesGcmKey::Open(const uint8_t* nonce, absl::Span<const uint8_t> sealed,
                      absl::Span<const uint8_t> ad, uint8_t* out) {
  return SubkeyFor(nonce).Open(nonce + 12, sealed, ad, out);
}

}  // namespace aead
}  // namespace fstun
