#include "seal/sealed_frame.h"

#include <algorithm>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/packet_builder.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;
using Error = FrameOpener::Error;

constexpr uint32_t kSender = 0xC0000202;  // 192.0.2.2
constexpr uint64_t kMySession = 1;        // the receiver's session

std::vector<uint8_t> Packet(uint32_t tag, size_t size = 200) {
  return PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), tag, size);
}

std::vector<uint8_t> SealOne(FrameSealer& sealer, const std::vector<uint8_t>& packet) {
  std::vector<uint8_t> out(packet.size() + kSealOverhead);
  size_t n = sealer.Seal(packet, absl::MakeSpan(out));
  EXPECT_EQ(n, out.size());
  return out;
}

// Every case runs with each cipher a sender may pick.
class SealedFrameTest : public ::testing::TestWithParam<aead::Cipher> {
 protected:
  Error OpenInto(const std::vector<uint8_t>& sealed, std::vector<uint8_t>* plain = nullptr) {
    buffer_.assign(kMaxFrameSize, 0xEE);
    FrameOpener::Result r = opener_.Open(sealed, absl::MakeSpan(buffer_));
    if (r.error == Error::kOk && plain) plain->assign(buffer_.begin(), buffer_.begin() + r.size);
    return r.error;
  }

  Key key_ = Key::Generate();
  FrameSealer sealer_{key_, kSender, /*session=*/1000, GetParam()};
  FrameOpener opener_{key_, kMySession};
  std::vector<uint8_t> buffer_;
};

TEST_P(SealedFrameTest, RoundTripHidesThePlaintext) {
  std::vector<uint8_t> packet = Packet(7, 1400);
  std::vector<uint8_t> sealed = SealOne(sealer_, packet);
  EXPECT_EQ(sealed.size(), packet.size() + kSealOverhead);
  // The plaintext does not appear in the sealed frame.
  EXPECT_EQ(std::search(sealed.begin(), sealed.end(), packet.begin() + 28, packet.begin() + 60),
            sealed.end());
  std::vector<uint8_t> plain;
  ASSERT_EQ(OpenInto(sealed, &plain), Error::kOk);
  EXPECT_EQ(plain, packet);
}

TEST_P(SealedFrameTest, SameFrameTwiceIsAReplay) {
  std::vector<uint8_t> sealed = SealOne(sealer_, Packet(1));
  EXPECT_EQ(OpenInto(sealed), Error::kOk);
  EXPECT_EQ(OpenInto(sealed), Error::kReplay);
  EXPECT_EQ(OpenInto(sealed), Error::kReplay);
}

TEST_P(SealedFrameTest, ReorderInsideTheWindowPassesBeyondIsTooOld) {
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < ReplayWindow::kWindowSize + 10; ++i) {
    frames.push_back(SealOne(sealer_, Packet(i, 60)));
  }
  // Newest first: everything down to the window's bottom opens once.
  EXPECT_EQ(OpenInto(frames.back()), Error::kOk);
  EXPECT_EQ(OpenInto(frames[frames.size() - 2]), Error::kOk);
  EXPECT_EQ(OpenInto(frames[9]), Error::kOk);  // exactly kWindowSize behind
  EXPECT_EQ(OpenInto(frames[8]), Error::kTooOld);
  EXPECT_EQ(OpenInto(frames[0]), Error::kTooOld);
}

TEST_P(SealedFrameTest, TruncatedFramesAreRefused) {
  std::vector<uint8_t> sealed = SealOne(sealer_, Packet(1, 300));
  for (size_t len = 0; len < sealed.size(); ++len) {
    std::vector<uint8_t> cut(sealed.begin(), sealed.begin() + len);
    Error e = OpenInto(cut);
    EXPECT_TRUE(e == Error::kMalformed || e == Error::kAuthFailed) << len;
    if (len < kSealOverhead) {
      EXPECT_EQ(e, Error::kMalformed) << len;
    }
  }
  // Extended by a byte: also refused.
  std::vector<uint8_t> longer = sealed;
  longer.push_back(0);
  EXPECT_EQ(OpenInto(longer), Error::kAuthFailed);
  // The genuine frame still opens: refusals left no state behind.
  EXPECT_EQ(OpenInto(sealed), Error::kOk);
}

TEST_P(SealedFrameTest, EveryFlippedBitIsRefused) {
  std::vector<uint8_t> packet = Packet(1, 100);
  std::vector<uint8_t> sealed = SealOne(sealer_, packet);
  for (size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = sealed;
      bad[byte] ^= static_cast<uint8_t>(1 << bit);
      buffer_.assign(kMaxFrameSize, 0xEE);
      FrameOpener::Result r = opener_.Open(bad, absl::MakeSpan(buffer_));
      ASSERT_NE(r.error, Error::kOk) << byte << ":" << bit;
      // No plaintext was released into the buffer.
      ASSERT_FALSE(std::equal(packet.begin(), packet.end(), buffer_.begin()));
    }
  }
  EXPECT_EQ(OpenInto(sealed), Error::kOk);
}

TEST_P(SealedFrameTest, WrongKeyFailsAuthentication) {
  Key other = Key::Generate();
  FrameSealer stranger(other, kSender, 1000, GetParam());
  EXPECT_EQ(OpenInto(SealOne(stranger, Packet(1))), Error::kAuthFailed);
  // And it did not claim the sender's session or sequence numbers.
  EXPECT_EQ(OpenInto(SealOne(sealer_, Packet(1))), Error::kOk);
}

TEST_P(SealedFrameTest, OlderSessionIsWrongSessionNewerOneTakesOver) {
  FrameSealer old_run(key_, kSender, 999);
  FrameSealer new_run(key_, kSender, 1001);
  std::vector<uint8_t> old_frame = SealOne(old_run, Packet(1));
  EXPECT_EQ(OpenInto(SealOne(sealer_, Packet(2))), Error::kOk);
  EXPECT_EQ(OpenInto(old_frame), Error::kWrongSession);
  std::vector<uint8_t> current = SealOne(sealer_, Packet(3));
  buffer_.assign(kMaxFrameSize, 0);
  FrameOpener::Result r = opener_.Open(SealOne(new_run, Packet(4)), absl::MakeSpan(buffer_));
  EXPECT_EQ(r.error, Error::kOk);
  EXPECT_TRUE(r.new_session);
  // Once the peer restarted, frames of its previous run are refused.
  EXPECT_EQ(OpenInto(current), Error::kWrongSession);
  // Another sender has its own session and window.
  FrameSealer other_sender(key_, kSender + 1, 5);
  EXPECT_EQ(OpenInto(SealOne(other_sender, Packet(5))), Error::kOk);
}

TEST_P(SealedFrameTest, HeaderFieldsAreAuthenticated) {
  std::vector<uint8_t> sealed = SealOne(sealer_, Packet(1));
  std::vector<uint8_t> other_sender = sealed;
  other_sender[7] ^= 1;
  EXPECT_EQ(OpenInto(other_sender), Error::kAuthFailed);
  std::vector<uint8_t> other_seq = sealed;
  other_seq[23] = 200;  // "rename to a future sequence number"
  EXPECT_EQ(OpenInto(other_seq), Error::kAuthFailed);
  std::vector<uint8_t> bad_marker = sealed;
  bad_marker[0] = 0x45;  // a plain IPv4 packet in place of a sealed frame
  EXPECT_EQ(OpenInto(bad_marker), Error::kMalformed);
  EXPECT_EQ(OpenInto(Packet(9)), Error::kMalformed);
}

TEST_P(SealedFrameTest, PlaintextLargerThanTheBufferIsOversize) {
  std::vector<uint8_t> sealed = SealOne(sealer_, Packet(1, 1000));
  std::vector<uint8_t> small(999);
  EXPECT_EQ(opener_.Open(sealed, absl::MakeSpan(small)).error, Error::kOversize);
  std::vector<uint8_t> exact(1000);
  EXPECT_EQ(opener_.Open(sealed, absl::MakeSpan(exact)).error, Error::kOk);
}

TEST_P(SealedFrameTest, SealRefusesTooSmallOutput) {
  std::vector<uint8_t> packet = Packet(1, 100);
  std::vector<uint8_t> out(packet.size() + kSealOverhead - 1);
  EXPECT_EQ(sealer_.Seal(packet, absl::MakeSpan(out)), 0u);
  EXPECT_EQ(sealer_.next_sequence(), 0u);
}

TEST_P(SealedFrameTest, SenderTableIsBounded) {
  FrameOpener small(key_, kMySession, /*max_senders=*/2);
  std::vector<uint8_t> buf(kMaxFrameSize);
  for (uint32_t id = 1; id <= 3; ++id) {
    FrameSealer s(key_, id, 1);
    Error e = small.Open(SealOne(s, Packet(id)), absl::MakeSpan(buf)).error;
    EXPECT_EQ(e, id <= 2 ? Error::kOk : Error::kTooManySenders) << id;
  }
}

TEST_P(SealedFrameTest, HelloTeachesTheSessionAndDeliversNothing) {
  std::vector<uint8_t> hello(kSealOverhead);
  ASSERT_EQ(sealer_.SealHello(absl::MakeSpan(hello)), kSealOverhead);
  buffer_.assign(kMaxFrameSize, 0);
  FrameOpener::Result r = opener_.Open(hello, absl::MakeSpan(buffer_));
  EXPECT_EQ(r.error, Error::kOk);
  EXPECT_TRUE(r.hello);
  EXPECT_EQ(r.size, 0u);
  EXPECT_EQ(r.learned, 1000u);
  EXPECT_EQ(OpenInto(hello), Error::kReplay);
  std::vector<uint8_t> fat = hello;
  fat.push_back(0);  // a hello never carries a frame
  EXPECT_EQ(OpenInto(fat), Error::kMalformed);
}

// Frames recorded before the receiver restarted do not open in the new run.
// One receiver opens both ciphers, each marked by its type; a frame whose
// type is changed to the other cipher's does not authenticate.
TEST_P(SealedFrameTest, TheTypeNamesTheCipherAndIsAuthenticated) {
  const aead::Cipher other = GetParam() == aead::Cipher::kAes256Gcm
                                 ? aead::Cipher::kChaCha20Poly1305
                                 : aead::Cipher::kAes256Gcm;
  FrameSealer second(key_, kSender + 1, 2000, other);
  std::vector<uint8_t> a = SealOne(sealer_, Packet(1)), b = SealOne(second, Packet(2));
  EXPECT_EQ(a[0], GetParam() == aead::Cipher::kAes256Gcm ? kSealAesMarker : kSealMarker);
  EXPECT_NE(a[0], b[0]);
  std::vector<uint8_t> swapped = a;
  swapped[0] = b[0];
  EXPECT_EQ(OpenInto(swapped), Error::kAuthFailed);
  std::vector<uint8_t> plain;
  ASSERT_EQ(OpenInto(a, &plain), Error::kOk);
  EXPECT_EQ(plain, Packet(1));
  ASSERT_EQ(OpenInto(b, &plain), Error::kOk);
  EXPECT_EQ(plain, Packet(2));
}

INSTANTIATE_TEST_SUITE_P(Ciphers, SealedFrameTest,
                         ::testing::Values(aead::Cipher::kChaCha20Poly1305,
                                           aead::Cipher::kAes256Gcm),
                         [](const ::testing::TestParamInfo<aead::Cipher>& info) {
                           return info.param == aead::Cipher::kAes256Gcm ? "xaes" : "xchacha";
                         });

TEST(SealedFrameEchoTest, FramesForAnEarlierRunOfTheReceiverAreWrongSession) {
  Key key = Key::Generate();
  const uint64_t old_run = NewSessionId();
  absl::SleepFor(absl::Milliseconds(2));
  const uint64_t new_run = NewSessionId();
  FrameSealer sender(key, kSender, NewSessionId());
  sender.set_echo(old_run);  // the sender had heard from the old run
  std::vector<uint8_t> recorded = SealOne(sender, Packet(1));
  FrameOpener restarted(key, new_run);
  std::vector<uint8_t> out(kMaxFrameSize);
  FrameOpener::Result r = restarted.Open(recorded, absl::MakeSpan(out));
  EXPECT_EQ(r.error, Error::kWrongSession);
  EXPECT_TRUE(r.wants_hello);
  EXPECT_EQ(r.learned, sender.session());
  // After the hello the sender echoes the new run, and its frames pass.
  sender.set_echo(new_run);
  EXPECT_EQ(restarted.Open(SealOne(sender, Packet(2)), absl::MakeSpan(out)).error, Error::kOk);
  EXPECT_EQ(restarted.Open(recorded, absl::MakeSpan(out)).error, Error::kWrongSession);
}

TEST(SealedFrameEchoTest, UnconfirmedFramesPassOnlyFromSessionsThatBeganAroundTheSameTime) {
  Key key = Key::Generate();
  const uint64_t me = NewSessionId();
  FrameOpener opener(key, me);
  std::vector<uint8_t> out(kMaxFrameSize);
  const uint64_t minute = uint64_t{60'000} << 22;
  FrameSealer recent(key, 1, me - minute + (uint64_t{1000} << 22));  // 59 s earlier
  EXPECT_EQ(opener.Open(SealOne(recent, Packet(1)), absl::MakeSpan(out)).error, Error::kOk);
  FrameSealer later(key, 2, me + (uint64_t{5000} << 22));  // started after me
  EXPECT_EQ(opener.Open(SealOne(later, Packet(1)), absl::MakeSpan(out)).error, Error::kOk);
  FrameSealer old(key, 3, me - minute - (uint64_t{1000} << 22));  // 61 s earlier
  FrameOpener::Result r = opener.Open(SealOne(old, Packet(1)), absl::MakeSpan(out));
  EXPECT_EQ(r.error, Error::kUnconfirmedSession);
  EXPECT_TRUE(r.wants_hello);
  old.set_echo(me);
  EXPECT_EQ(opener.Open(SealOne(old, Packet(2)), absl::MakeSpan(out)).error, Error::kOk);
}

TEST(SessionIdTest, LaterSessionsCompareGreater) {
  uint64_t a = NewSessionId();
  absl::SleepFor(absl::Milliseconds(2));
  uint64_t b = NewSessionId();
  EXPECT_LT(a, b);
  EXPECT_EQ(SenderIdToString(0xC0000202), "192.0.2.2");
}

}  // namespace
}  // namespace fstun
