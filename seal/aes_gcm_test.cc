// Tests of AES-256-GCM and XAES-256-GCM (seal/aes_gcm.h) and of --cipher's
// values (seal/cipher.h): the published known answers with each backend,
// ipsec-mb and libcrypto equal at every size a frame can have (so a sender
// on one opens on the other), in-place use, refusal of every tampered input
// with nothing left in the output, and XAES subkeys past the cache's size.
#include "seal/aes_gcm.h"

#include <sodium.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "seal/aead.h"
#include "seal/cipher.h"

namespace fstun {
namespace aead {
namespace {

std::vector<uint8_t> Hex(const std::string& hex) {
  std::string bytes = absl::HexStringToBytes(hex);
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::vector<uint8_t> Random(size_t n) {
  std::vector<uint8_t> v(n);
  if (n > 0) randombytes_buf(v.data(), v.size());  // data() may be null when empty
  return v;
}

class AesGcmTest : public ::testing::TestWithParam<AesBackend> {
 protected:
  void SetUp() override {
    InitAead();
    SetAesBackendForTest(GetParam());
  }
  void TearDown() override { SetAesBackendForTest(AesBackend::kAuto); }
};

// The GCM specification's (McGrew, Viega) test case 16: AES-256, 60 bytes, 20 of AD.
TEST_P(AesGcmTest, KnownAnswer) {
  std::vector<uint8_t> key =
      Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  std::vector<uint8_t> nonce = Hex("cafebabefacedbaddecaf888");
  std::vector<uint8_t> plain = Hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525b16aedf5aa0de657ba637b39");
  std::vector<uint8_t> ad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  std::vector<uint8_t> expected = Hex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682"
      "8838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  AesGcmKey k(key.data());
  std::vector<uint8_t> sealed(plain.size() + 16);
  k.Seal(nonce.data(), plain, ad, sealed.data());
  EXPECT_EQ(sealed, expected);
  std::vector<uint8_t> opened(plain.size());
  ASSERT_TRUE(k.Open(nonce.data(), expected, ad, opened.data()));
  EXPECT_EQ(opened, plain);
}

// C2SP XAES-256-GCM.md, both vectors.
TEST_P(AesGcmTest, XAesKnownAnswers) {
  struct Vector {
    std::string key, ad, expected;
  };
  for (const Vector& v : {
           Vector{"0101010101010101010101010101010101010101010101010101010101010101", "",
                  "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271"},
           Vector{"0303030303030303030303030303030303030303030303030303030303030303",
                  "c2sp.org/XAES-256-GCM",
                  "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d"},
       }) {
    std::vector<uint8_t> key = Hex(v.key), nonce = Bytes("ABCDEFGHIJKLMNOPQRSTUVWX");
    std::vector<uint8_t> plain = Bytes("XAES-256-GCM"), ad = Bytes(v.ad);
    XAesGcmKey k(key.data());
    std::vector<uint8_t> sealed(plain.size() + 16);
    k.Seal(nonce.data(), plain, ad, sealed.data());
    EXPECT_EQ(sealed, Hex(v.expected)) << v.key;
    std::vector<uint8_t> opened(plain.size());
    ASSERT_TRUE(k.Open(nonce.data(), sealed, ad, opened.data()));
    EXPECT_EQ(opened, plain);
  }
}

TEST_P(AesGcmTest, TamperedInputsAreRefusedAndLeaveNothing) {
  std::vector<uint8_t> key = Random(32), nonce = Random(12), ad = Random(16);
  std::vector<uint8_t> plain = Random(3000);
  AesGcmKey k(key.data());
  std::vector<uint8_t> sealed(plain.size() + 16);
  k.Seal(nonce.data(), plain, ad, sealed.data());
  auto refused = [&](std::vector<uint8_t> s, std::vector<uint8_t> a, std::vector<uint8_t> n) {
    std::vector<uint8_t> out(s.size() - 16, 0xAA);
    bool ok = k.Open(n.data(), s, a, out.data());
    return !ok && out == std::vector<uint8_t>(out.size(), 0);
  };
  for (size_t at : {size_t{0}, size_t{1499}, plain.size() + 15}) {
    std::vector<uint8_t> s = sealed;
    s[at] ^= 0x01;
    EXPECT_TRUE(refused(s, ad, nonce)) << "byte " << at;
  }
  std::vector<uint8_t> a = ad;
  a[3] ^= 0x80;
  EXPECT_TRUE(refused(sealed, a, nonce));
  std::vector<uint8_t> n = nonce;
  n[11] ^= 0x01;
  EXPECT_TRUE(refused(sealed, ad, n));
  AesGcmKey other(Random(32).data());
  std::vector<uint8_t> out(plain.size());
  EXPECT_FALSE(other.Open(nonce.data(), sealed, ad, out.data()));
  EXPECT_FALSE(k.Open(nonce.data(), absl::MakeConstSpan(sealed.data(), 15), ad, out.data()));
}

TEST_P(AesGcmTest, InPlace) {
  std::vector<uint8_t> key = Random(32), nonce = Random(12), plain = Random(65536 + 123);
  AesGcmKey k(key.data());
  std::vector<uint8_t> buf = plain;
  buf.resize(plain.size() + 16);
  k.Seal(nonce.data(), absl::MakeConstSpan(buf.data(), plain.size()), {}, buf.data());
  EXPECT_NE(std::vector<uint8_t>(buf.begin(), buf.begin() + plain.size()), plain);
  ASSERT_TRUE(k.Open(nonce.data(), buf, {}, buf.data()));
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + plain.size()), plain);
}

// More senders than the subkey cache holds, taking turns: every frame still
// opens, and a frame under one prefix never opens under another.
TEST_P(AesGcmTest, XAesSubkeysBeyondTheCache) {
  std::vector<uint8_t> key = Random(32);
  XAesGcmKey sealer(key.data()), opener(key.data());
  const size_t senders = XAesGcmKey::kCachedSubkeys + 3;
  std::vector<std::vector<uint8_t>> nonces;
  for (size_t i = 0; i < senders; ++i) nonces.push_back(Random(24));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < senders; ++i) {
      std::vector<uint8_t> plain = Random(100 + i);
      std::vector<uint8_t> sealed(plain.size() + 16), out(plain.size());
      sealer.Seal(nonces[i].data(), plain, {}, sealed.data());
      ASSERT_TRUE(opener.Open(nonces[i].data(), sealed, {}, out.data())) << i;
      EXPECT_EQ(out, plain);
      std::vector<uint8_t> wrong = nonces[(i + 1) % senders];
      std::memcpy(wrong.data() + 12, nonces[i].data() + 12, 12);  // same GCM nonce, other subkey
      EXPECT_FALSE(opener.Open(wrong.data(), sealed, {}, out.data()));
    }
  }
}

// A derived key is the same from the same inputs and differs from the key
// it came from and from another label's.
TEST_P(AesGcmTest, DerivedKeysAreTheirOwn) {
  std::vector<uint8_t> key = Random(32), nonce = Random(24), plain = Random(500);
  std::unique_ptr<AesGcmKey> a = AesGcmKey::Derived(key, "label a");
  std::vector<uint8_t> sealed(plain.size() + 16), out(plain.size());
  a->Seal(nonce.data(), plain, {}, sealed.data());
  EXPECT_TRUE(AesGcmKey::Derived(key, "label a")->Open(nonce.data(), sealed, {}, out.data()));
  EXPECT_EQ(out, plain);
  EXPECT_FALSE(AesGcmKey::Derived(key, "label b")->Open(nonce.data(), sealed, {}, out.data()));
  EXPECT_FALSE(AesGcmKey(key.data()).Open(nonce.data(), sealed, {}, out.data()));
  std::unique_ptr<XAesGcmKey> x = XAesGcmKey::Derived(key, "label a");
  x->Seal(nonce.data(), plain, {}, sealed.data());
  EXPECT_TRUE(XAesGcmKey::Derived(key, "label a")->Open(nonce.data(), sealed, {}, out.data()));
  EXPECT_FALSE(XAesGcmKey(key.data()).Open(nonce.data(), sealed, {}, out.data()));
}

INSTANTIATE_TEST_SUITE_P(Backends, AesGcmTest,
                         ::testing::Values(AesBackend::kLibcrypto, AesBackend::kIpsecMb),
                         [](const ::testing::TestParamInfo<AesBackend>& info) {
                           return info.param == AesBackend::kLibcrypto ? "libcrypto" : "ipsec_mb";
                         });

// What one backend seals the other opens, at every size class a frame can
// have (empty keepalives to 64 KiB super-packets), so peers agree whichever
// code each runs.
TEST(AesGcmBackends, SealedByOneOpenedByTheOther) {
  InitAead();
  SetAesBackendForTest(AesBackend::kIpsecMb);
  if (ActiveAesBackend() != AesBackend::kIpsecMb) {
    GTEST_SKIP() << "ipsec-mb is not in this build or this CPU lacks AES-NI/PCLMULQDQ";
  }
  std::vector<uint8_t> key = Random(32);
  AesGcmKey fast(key.data());
  SetAesBackendForTest(AesBackend::kLibcrypto);
  AesGcmKey portable(key.data());
  SetAesBackendForTest(AesBackend::kAuto);
  for (size_t size : {0, 1, 15, 16, 17, 255, 256, 511, 512, 1500, 4096, 9000, 65535, 65600}) {
    std::vector<uint8_t> nonce = Random(12), ad = Random(size % 29), plain = Random(size);
    std::vector<uint8_t> a(size + 16), b(size + 16), out(size);
    fast.Seal(nonce.data(), plain, ad, a.data());
    portable.Seal(nonce.data(), plain, ad, b.data());
    EXPECT_EQ(a, b) << size;
    ASSERT_TRUE(portable.Open(nonce.data(), a, ad, out.data())) << size;
    EXPECT_EQ(out, plain);
    ASSERT_TRUE(fast.Open(nonce.data(), b, ad, out.data())) << size;
    EXPECT_EQ(out, plain);
  }
}

TEST(Cipher, FlagValues) {
  EXPECT_EQ(ParseCipher("chacha20-poly1305"), Cipher::kChaCha20Poly1305);
  EXPECT_EQ(ParseCipher("aes-256-gcm"), Cipher::kAes256Gcm);
  EXPECT_EQ(ParseCipher("auto"), AutoCipher());
  EXPECT_EQ(ParseCipher("aes"), std::nullopt);
  EXPECT_EQ(ParseCipher(""), std::nullopt);
  EXPECT_EQ(AutoCipher(), HardwareAes() ? Cipher::kAes256Gcm : Cipher::kChaCha20Poly1305);
}

}  // namespace
}  // namespace aead
}  // namespace fstun
