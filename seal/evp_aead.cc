#include "seal/evp_aead.h"

#include <sodium.h>

#include <climits>
#include <cstring>

#include "glog/logging.h"

namespace fstun {
namespace aead {
namespace {

constexpr int kTag = 16;

int Int(size_t n) {
  CHECK_LE(n, static_cast<size_t>(INT_MAX));
  return static_cast<int>(n);
}

}  // namespace

void EvpSeal(EVP_CIPHER_CTX* ctx, const uint8_t* key, const uint8_t* nonce,
             absl::Span<const uint8_t> plain, absl::Span<const uint8_t> ad, uint8_t* out) {
  int n = 0;
  CHECK_EQ(EVP_EncryptInit_ex2(ctx, nullptr, key, nonce, nullptr), 1);
  if (!ad.empty()) CHECK_EQ(EVP_EncryptUpdate(ctx, nullptr, &n, ad.data(), Int(ad.size())), 1);
  int written = 0;
  if (!plain.empty()) {
    CHECK_EQ(EVP_EncryptUpdate(ctx, out, &written, plain.data(), Int(plain.size())), 1);
  }
  int last = 0;
  CHECK_EQ(EVP_EncryptFinal_ex(ctx, out + written, &last), 1);
  CHECK_EQ(static_cast<size_t>(written + last), plain.size());
  CHECK_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTag, out + plain.size()), 1);
}

bool EvpOpen(EVP_CIPHER_CTX* ctx, const uint8_t* key, const uint8_t* nonce,
             absl::Span<const uint8_t> sealed, absl::Span<const uint8_t> ad, uint8_t* out) {
  const size_t size = sealed.size() - kTag;
  int n = 0;
  CHECK_EQ(EVP_DecryptInit_ex2(ctx, nullptr, key, nonce, nullptr), 1);
  // The tag is copied first: with out == sealed.data() the text is
  // overwritten, never the tag behind it, but the copy keeps that obvious.
  uint8_t tag[kTag];
  std::memcpy(tag, sealed.data() + size, kTag);
  CHECK_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, tag), 1);
  if (!ad.empty()) CHECK_EQ(EVP_DecryptUpdate(ctx, nullptr, &n, ad.data(), Int(ad.size())), 1);
  int written = 0;
  if (size > 0) CHECK_EQ(EVP_DecryptUpdate(ctx, out, &written, sealed.data(), Int(size)), 1);
  int last = 0;
  if (EVP_DecryptFinal_ex(ctx, out + written, &last) != 1) {
    if (size > 0) sodium_memzero(out, size);
    return false;
  }
  return true;
}

}  // namespace aead
}  // namespace fstun
