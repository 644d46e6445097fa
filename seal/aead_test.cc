// Tests of the frame AEADs (seal/aead.h): the published known answers with
// each implementation forced, libcrypto's and libsodium's results equal at
// every size around the switch-over (so peers of older builds, which sealed
// everything with libsodium, interoperate), in-place use, and refusal of
// every tampered input with nothing left in the output.
#include "seal/aead.h"

#include <sodium.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fstun {
namespace aead {
namespace {

std::vector<uint8_t> Hex(const std::string& hex) {
  std::string bytes = absl::HexStringToBytes(hex);
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

const char kSunscreen[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";

std::vector<uint8_t> SunscreenBytes() {
  return std::vector<uint8_t>(kSunscreen, kSunscreen + sizeof(kSunscreen) - 1);
}

class AeadTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    InitAead();
    SetBackendForTest(GetParam());
  }
  void TearDown() override { SetBackendForTest(Backend::kAuto); }
};

// RFC 8439 section 2.8.2.
TEST_P(AeadTest, ChaChaPolyKnownAnswer) {
  std::vector<uint8_t> key =
      Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  std::vector<uint8_t> nonce = Hex("070000004041424344454647");
  std::vector<uint8_t> ad = Hex("50515253c0c1c2c3c4c5c6c7");
  std::vector<uint8_t> expected = Hex(
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92"
      "728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b"
      "4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691");
  std::vector<uint8_t> plain = SunscreenBytes();
  std::vector<uint8_t> sealed(plain.size() + kTagSize);
  ChaChaPolySeal(key.data(), nonce.data(), plain, ad, sealed.data());
  EXPECT_EQ(sealed, expected);
  std::vector<uint8_t> opened(plain.size());
  ASSERT_TRUE(ChaChaPolyOpen(key.data(), nonce.data(), expected, ad, opened.data()));
  EXPECT_EQ(opened, plain);
}

// draft-irtf-cfrg-xchacha-03, appendix A.3.1.
TEST_P(AeadTest, XChaChaPolyKnownAnswer) {
  std::vector<uint8_t> key =
      Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  std::vector<uint8_t> nonce = Hex("404142434445464748494a4b4c4d4e4f5051525354555657");
  std::vector<uint8_t> ad = Hex("50515253c0c1c2c3c4c5c6c7");
  std::vector<uint8_t> expected = Hex(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda"
      "7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b23835"
      "65d3fff921f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49");
  std::vector<uint8_t> plain = SunscreenBytes();
  std::vector<uint8_t> sealed(plain.size() + kTagSize);
  XChaChaPolySeal(key.data(), nonce.data(), plain, ad, sealed.data());
  EXPECT_EQ(sealed, expected);
  std::vector<uint8_t> opened(plain.size());
  ASSERT_TRUE(XChaChaPolyOpen(key.data(), nonce.data(), expected, ad, opened.data()));
  EXPECT_EQ(opened, plain);
}

// Every bit flipped (text, tag, associated data, nonce, key) is refused and
// the output holds no plaintext; in place, the refused input is not opened.
TEST_P(AeadTest, TamperedInputIsRefusedAndLeavesNoPlaintext) {
  for (bool x : {false, true}) {
    auto seal = x ? XChaChaPolySeal : ChaChaPolySeal;
    auto open = x ? XChaChaPolyOpen : ChaChaPolyOpen;
    const size_t nonce_size = x ? kXNonceSize : kNonceSize;
    std::vector<uint8_t> key(kKeySize), nonce(nonce_size), ad(24);
    randombytes_buf(key.data(), key.size());
    randombytes_buf(nonce.data(), nonce.size());
    randombytes_buf(ad.data(), ad.size());
    std::vector<uint8_t> plain(700, 0x42);
    std::vector<uint8_t> sealed(plain.size() + kTagSize);
    seal(key.data(), nonce.data(), plain, ad, sealed.data());
    std::vector<uint8_t> out(plain.size());
    auto refused = [&](std::vector<uint8_t> k, std::vector<uint8_t> n, std::vector<uint8_t> a,
                       std::vector<uint8_t> s) {
      out.assign(plain.size(), 0xEE);
      if (open(k.data(), n.data(), s, a, out.data())) return false;
      return out != plain;
    };
    for (size_t byte = 0; byte < sealed.size(); byte += 37) {
      std::vector<uint8_t> bad = sealed;
      bad[byte] ^= 0x10;
      EXPECT_TRUE(refused(key, nonce, ad, bad)) << x << " text/tag byte " << byte;
    }
    std::vector<uint8_t> bad_ad = ad, bad_nonce = nonce, bad_key = key;
    bad_ad[3] ^= 1;
    bad_nonce[nonce_size - 1] ^= 1;  // the counter (sequence) part
    bad_key[0] ^= 1;
    EXPECT_TRUE(refused(key, nonce, bad_ad, sealed)) << x;
    EXPECT_TRUE(refused(key, bad_nonce, ad, sealed)) << x;
    EXPECT_TRUE(refused(bad_key, nonce, ad, sealed)) << x;
    std::vector<uint8_t> truncated(sealed.begin(), sealed.end() - 1);
    EXPECT_FALSE(open(key.data(), nonce.data(), truncated, ad, out.data())) << x;
    EXPECT_FALSE(open(key.data(), nonce.data(), absl::MakeConstSpan(sealed.data(), kTagSize - 1),
                      ad, out.data()))
        << x;
    // In place: a refused frame's buffer does not end up holding its text.
    std::vector<uint8_t> in_place = sealed;
    in_place[5] ^= 1;
    EXPECT_FALSE(open(key.data(), nonce.data(), in_place, ad, in_place.data())) << x;
    EXPECT_NE(std::vector<uint8_t>(in_place.begin(), in_place.begin() + plain.size()), plain);
    // The genuine one still opens.
    ASSERT_TRUE(open(key.data(), nonce.data(), sealed, ad, out.data())) << x;
    EXPECT_EQ(out, plain);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, AeadTest,
                         ::testing::Values(Backend::kAuto, Backend::kLibsodium,
                                           Backend::kLibcrypto));

// What libcrypto seals is what libsodium seals, byte for byte, at every size
// around the switch-over and up to a 64 KiB super-packet, with and without
// associated data; each opens the other's; sealing and opening in place
// give the same bytes.
TEST(AeadCrossTest, LibcryptoAndLibsodiumAgreeAtEverySize) {
  InitAead();
  std::vector<uint8_t> key(kKeySize), nonce(kXNonceSize), ad(32);
  randombytes_buf(key.data(), key.size());
  randombytes_buf(nonce.data(), nonce.size());
  randombytes_buf(ad.data(), ad.size());
  std::vector<size_t> sizes = {0,   1,   15,  16,   17,   63,    64,        65,
                               511, 512, 513, 1400, 4096, 65535, 65536 + 10};
  for (size_t size : sizes) {
    std::vector<uint8_t> plain(size);
    if (size > 0) randombytes_buf(plain.data(), plain.size());
    for (bool x : {false, true}) {
      for (bool with_ad : {false, true}) {
        absl::Span<const uint8_t> a =
            with_ad ? absl::MakeConstSpan(ad) : absl::Span<const uint8_t>();
        auto seal = x ? XChaChaPolySeal : ChaChaPolySeal;
        auto open = x ? XChaChaPolyOpen : ChaChaPolyOpen;
        std::vector<uint8_t> by_sodium(size + kTagSize), by_crypto(size + kTagSize);
        SetBackendForTest(Backend::kLibsodium);
        seal(key.data(), nonce.data(), plain, a, by_sodium.data());
        SetBackendForTest(Backend::kLibcrypto);
        seal(key.data(), nonce.data(), plain, a, by_crypto.data());
        ASSERT_EQ(by_sodium, by_crypto) << "size " << size << " x " << x << " ad " << with_ad;
        // In place.
        std::vector<uint8_t> in_place(size + kTagSize);
        std::copy(plain.begin(), plain.end(), in_place.begin());
        seal(key.data(), nonce.data(), absl::MakeConstSpan(in_place.data(), size), a,
             in_place.data());
        ASSERT_EQ(in_place, by_sodium) << size;
        ASSERT_TRUE(open(key.data(), nonce.data(), in_place, a, in_place.data())) << size;
        ASSERT_TRUE(std::equal(plain.begin(), plain.end(), in_place.begin())) << size;
        // Each opens the other's.
        std::vector<uint8_t> out(size);
        ASSERT_TRUE(open(key.data(), nonce.data(), by_sodium, a, out.data())) << size;
        ASSERT_EQ(out, plain);
        SetBackendForTest(Backend::kLibsodium);
        ASSERT_TRUE(open(key.data(), nonce.data(), by_crypto, a, out.data())) << size;
        ASSERT_EQ(out, plain);
        // And libsodium's own functions, as an older fstun calls them.
        unsigned long long len = 0;
        std::vector<uint8_t> direct(size + kTagSize);
        if (x) {
          crypto_aead_xchacha20poly1305_ietf_encrypt(direct.data(), &len, plain.data(), size,
                                                     a.data(), a.size(), nullptr, nonce.data(),
                                                     key.data());
        } else {
          crypto_aead_chacha20poly1305_ietf_encrypt(direct.data(), &len, plain.data(), size,
                                                    a.data(), a.size(), nullptr, nonce.data(),
                                                    key.data());
        }
        ASSERT_EQ(direct, by_crypto) << size;
      }
    }
  }
  SetBackendForTest(Backend::kAuto);
}

// Each thread has its own contexts: threads sealing at once get what one
// thread would.
TEST(AeadCrossTest, ThreadsSealIndependently) {
  InitAead();
  std::vector<uint8_t> key(kKeySize, 7), nonce(kNonceSize, 9);
  std::vector<uint8_t> plain(8192, 0x5A);
  std::vector<uint8_t> expected(plain.size() + kTagSize);
  ChaChaPolySeal(key.data(), nonce.data(), plain, {}, expected.data());
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> out(plain.size() + kTagSize);
      int good = 0;
      for (int i = 0; i < 200; ++i) {
        ChaChaPolySeal(key.data(), nonce.data(), plain, {}, out.data());
        if (out == expected) ++good;
      }
      ok[t] = good;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_THAT(ok, ::testing::Each(200));
}

}  // namespace
}  // namespace aead
}  // namespace fstun
