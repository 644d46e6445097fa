#include "vnet/header.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace fstun {
namespace {

TEST(VirtioNetHeaderTest, ParsesFieldsAndRefusesShortFrames) {
  std::vector<uint8_t> frame = WithEmptyVnetHeader(std::vector<uint8_t>{0x45, 0x00});
  ASSERT_EQ(frame.size(), kVirtioNetHdrSize + 2);
  frame[0] = kVirtioNeedsChecksum;
  frame[1] = kVirtioGsoUdpL4;
  uint16_t gso_size = 1200;
  std::memcpy(&frame[4], &gso_size, 2);  // native byte order, as the kernel writes it
  std::optional<VirtioNetHeader> h = ParseVirtioNetHeader(frame);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->flags, kVirtioNeedsChecksum);
  EXPECT_EQ(h->gso_type, kVirtioGsoUdpL4);
  EXPECT_EQ(h->gso_size, 1200);
  EXPECT_FALSE(h->plain());
  EXPECT_EQ(VnetPayload(frame).size(), 2u);
  EXPECT_EQ(VnetPayload(frame)[0], 0x45);

  std::vector<uint8_t> short_frame(kVirtioNetHdrSize - 1);
  EXPECT_FALSE(ParseVirtioNetHeader(short_frame).has_value());
  EXPECT_TRUE(VnetPayload(short_frame).empty());
}

TEST(VirtioNetHeaderTest, WriteThenParseRoundTrips) {
  VirtioNetHeader h;
  h.flags = kVirtioNeedsChecksum;
  h.gso_type = kVirtioGsoTcpV6;
  h.hdr_len = 60;
  h.gso_size = 1440;
  h.csum_start = 40;
  h.csum_offset = 16;
  std::vector<uint8_t> buf(kVirtioNetHdrSize);
  WriteVirtioNetHeader(h, absl::MakeSpan(buf));
  std::optional<VirtioNetHeader> back = ParseVirtioNetHeader(buf);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->gso_type, kVirtioGsoTcpV6);
  EXPECT_EQ(back->gso_size, 1440);
  EXPECT_EQ(back->csum_start, 40);
  EXPECT_EQ(back->csum_offset, 16);
  EXPECT_EQ(back->hdr_len, 60);
}

TEST(IpPacketTest, TheFormatSaysWhereThePacketStarts) {
  std::vector<uint8_t> packet = {0x45, 1, 2, 3};
  std::vector<uint8_t> frame = WithEmptyVnetHeader(packet);
  FrameView plain = IpPacket(packet, FrameFormat::kIp);
  FrameView inner = IpPacket(frame, FrameFormat::kVnet);
  EXPECT_EQ(std::vector<uint8_t>(plain.begin(), plain.end()), packet);
  EXPECT_EQ(std::vector<uint8_t>(inner.begin(), inner.end()), packet);
}

}  // namespace
}  // namespace fstun
