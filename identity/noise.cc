// Noise primitives on libsodium; see noise.h. Theory of operation: each
// function is the spec's definition written out; nothing is cached, and every
// intermediate secret on the stack is wiped before returning.
#include "identity/noise.h"

#include <sodium.h>

#include <cstring>

#include "glog/logging.h"
#include "seal/key.h"

namespace fstun {
namespace noise {

HashValue Hash(absl::Span<const uint8_t> data) {
  HashValue out;
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}

HashValue Hmac(absl::Span<const uint8_t> key, absl::Span<const uint8_t> data) {
  // Keys here are at most HASHLEN (64) bytes, below the block size: no
  // pre-hashing of the key is needed.
  CHECK_LE(key.size(), kBlockLen);
  uint8_t pad[kBlockLen];
  HashValue inner;
  crypto_generichash_state st;

  std::memset(pad, 0x36, sizeof(pad));
  for (size_t i = 0; i < key.size(); ++i) pad[i] ^= key[i];
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, pad, sizeof(pad));
  crypto_generichash_update(&st, data.data(), data.size());
  crypto_generichash_final(&st, inner.data(), inner.size());

  std::memset(pad, 0x5c, sizeof(pad));
  for (size_t i = 0; i < key.size(); ++i) pad[i] ^= key[i];
  HashValue out;
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, pad, sizeof(pad));
  crypto_generichash_update(&st, inner.data(), inner.size());
  crypto_generichash_final(&st, out.data(), out.size());

  sodium_memzero(pad, sizeof(pad));
  sodium_memzero(inner.data(), inner.size());
  sodium_memzero(&st, sizeof(st));
  return out;
}

void Hkdf(const HashValue& chaining_key, absl::Span<const uint8_t> ikm, HashValue* out1,
          HashValue* out2, HashValue* out3) {
  HashValue temp = Hmac(chaining_key, ikm);
  const uint8_t one = 0x01;
  HashValue o1 = Hmac(temp, absl::MakeConstSpan(&one, 1));
  *out1 = o1;
  if (out2 != nullptr || out3 != nullptr) {
    uint8_t buf[kHashLen + 1];
    std::memcpy(buf, o1.data(), kHashLen);
    buf[kHashLen] = 0x02;
    HashValue o2 = Hmac(temp, absl::MakeConstSpan(buf, sizeof(buf)));
    if (out2 != nullptr) *out2 = o2;
    if (out3 != nullptr) {
      std::memcpy(buf, o2.data(), kHashLen);
      buf[kHashLen] = 0x03;
      *out3 = Hmac(temp, absl::MakeConstSpan(buf, sizeof(buf)));
    }
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(o2.data(), o2.size());
  }
  sodium_memzero(temp.data(), temp.size());
  sodium_memzero(o1.data(), o1.size());
}

bool Dh(const uint8_t* private_key, const uint8_t* public_key, uint8_t* out) {
  // crypto_scalarmult fails (-1) when the result is all zeros.
  return crypto_scalarmult(out, private_key, public_key) == 0;
}

namespace {
void Nonce(uint64_t counter, uint8_t* nonce) {
  std::memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}
}  // namespace

void AeadEncrypt(const CipherKey& key, uint64_t counter, absl::Span<const uint8_t> plain,
                 absl::Span<const uint8_t> ad, uint8_t* out) {
  uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  Nonce(counter, nonce);
  unsigned long long out_len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &out_len, plain.data(), plain.size(), ad.data(),
                                            ad.size(), nullptr, nonce, key.data());
}

bool AeadDecrypt(const CipherKey& key, uint64_t counter, absl::Span<const uint8_t> cipher,
                 absl::Span<const uint8_t> ad, uint8_t* out) {
  if (cipher.size() < kTagLen) return false;
  uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  Nonce(counter, nonce);
  unsigned long long out_len = 0;
  return crypto_aead_chacha20poly1305_ietf_decrypt(out, &out_len, nullptr, cipher.data(),
                                                   cipher.size(), ad.data(), ad.size(), nonce,
                                                   key.data()) == 0;
}

CipherKey Truncate(const HashValue& v) {
  CipherKey k;
  std::memcpy(k.data(), v.data(), kKeyLen);
  return k;
}

SymmetricState::SymmetricState(absl::string_view protocol_name, absl::string_view prologue) {
  InitSodium();
  // InitializeSymmetric: a name of at most HASHLEN bytes is zero-padded,
  // a longer one hashed.
  if (protocol_name.size() <= kHashLen) {
    h_.fill(0);
    std::memcpy(h_.data(), protocol_name.data(), protocol_name.size());
  } else {
    h_ = Hash(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(protocol_name.data()),
                                  protocol_name.size()));
  }
  ck_ = h_;
  k_.fill(0);
  MixHash(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(prologue.data()), prologue.size()));
}

SymmetricState::~SymmetricState() {
  sodium_memzero(ck_.data(), ck_.size());
  sodium_memzero(k_.data(), k_.size());
}

void SymmetricState::MixHash(absl::Span<const uint8_t> data) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, h_.data(), h_.size());
  crypto_generichash_update(&st, data.data(), data.size());
  crypto_generichash_final(&st, h_.data(), h_.size());
}

void SymmetricState::MixKey(absl::Span<const uint8_t> ikm) {
  HashValue temp_k;
  Hkdf(ck_, ikm, &ck_, &temp_k);
  k_ = Truncate(temp_k);
  n_ = 0;
  has_key_ = true;
  sodium_memzero(temp_k.data(), temp_k.size());
}

void SymmetricState::MixKeyAndHash(absl::Span<const uint8_t> ikm) {
  HashValue temp_h, temp_k;
  Hkdf(ck_, ikm, &ck_, &temp_h, &temp_k);
  MixHash(temp_h);
  k_ = Truncate(temp_k);
  n_ = 0;
  has_key_ = true;
  sodium_memzero(temp_k.data(), temp_k.size());
}

void SymmetricState::EncryptAndHash(absl::Span<const uint8_t> plain, uint8_t* out) {
  if (!has_key_) {  // before the first MixKey the payload travels in clear
    if (!plain.empty()) std::memmove(out, plain.data(), plain.size());
    MixHash(absl::MakeConstSpan(out, plain.size()));
    return;
  }
  AeadEncrypt(k_, n_++, plain, h_, out);
  MixHash(absl::MakeConstSpan(out, plain.size() + kTagLen));
}

bool SymmetricState::DecryptAndHash(absl::Span<const uint8_t> cipher, uint8_t* out) {
  CHECK(has_key_);
  if (!AeadDecrypt(k_, n_, cipher, h_, out)) return false;
  ++n_;
  MixHash(cipher);
  return true;
}

void SymmetricState::Split(CipherKey* first, CipherKey* second) const {
  HashValue t1, t2;
  Hkdf(ck_, {}, &t1, &t2);
  *first = Truncate(t1);
  *second = Truncate(t2);
  sodium_memzero(t1.data(), t1.size());
  sodium_memzero(t2.data(), t2.size());
}

}  // namespace noise
}  // namespace fstun
