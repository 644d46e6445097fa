#include "testing/packet_builder.h"

#include "gtest/gtest.h"

namespace fstun::testing {
namespace {

TEST(PacketBuilderTest, Ipv4HeaderChecksumVerifies) {
  auto p = PacketBuilder::Udp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 2, {});
  ASSERT_EQ(p.size(), 28u);
  // A correct header sums to zero (0xffff before complement).
  EXPECT_EQ(InternetChecksum(FrameView(p.data(), 20)), 0);
}

TEST(PacketBuilderTest, UdpChecksumVerifiesWithPseudoHeader) {
  std::vector<uint8_t> payload = {'h', 'i', '!'};
  auto p = PacketBuilder::Udp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1000, 2000, payload);
  uint32_t pseudo = 0xc000 + 0x0202 + 0xc000 + 0x0201 + 17 + (p.size() - 20);
  EXPECT_EQ(InternetChecksum(FrameView(p.data() + 20, p.size() - 20), pseudo), 0);
}

TEST(PacketBuilderTest, TaggedUdpRoundTripsAndDetectsCorruption) {
  auto p = PacketBuilder::TaggedUdp(Ip("2001:db8::2"), Ip("2001:db8::1"), 1234, 300);
  EXPECT_EQ(p.size(), 300u);
  EXPECT_EQ(PacketBuilder::TagOf(p), 1234);
  p[299] ^= 1;
  EXPECT_EQ(PacketBuilder::TagOf(p), -1);
}

TEST(PacketBuilderTest, IcmpEchoIpv4ChecksumVerifies) {
  auto p = PacketBuilder::IcmpEcho(Ip("192.0.2.2"), Ip("192.0.2.1"), 7, 1, {});
  EXPECT_EQ(p[20], 8);
  EXPECT_EQ(InternetChecksum(FrameView(p.data() + 20, p.size() - 20)), 0);
}

}  // namespace
}  // namespace fstun::testing
