#include "identity/handshake.h"

#include <cstring>
#include <vector>

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

}  // namespace
}  // namespace fstun
