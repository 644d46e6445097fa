#include "vnet/adapt.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "testing/packet_builder.h"
#include "testing/vnet_frames.h"
#include "vnet/header.h"

namespace fstun {
namespace {

using ::fstun::testing::GsoSuperPacket;
using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

std::vector<uint8_t> Bytes(FrameView v) { return std::vector<uint8_t>(v.begin(), v.end()); }

TEST(ConvertFrameTest, PlainToVnetAddsAnEmptyHeader) {
  std::vector<uint8_t> packet = PacketBuilder::Udp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 2, {7, 8});
  FrameBatch out(4, 2048);
  absl::StatusOr<size_t> n = ConvertFrame(packet, FrameFormat::kIp, FrameFormat::kVnet, out);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(Bytes(out[0]), WithEmptyVnetHeader(packet));
  ASSERT_TRUE(ParseVirtioNetHeader(out[0])->plain());
}

TEST(ConvertFrameTest, VnetToPlainCutsASuperPacket) {
  std::vector<uint8_t> payload(4000, 0x5a);
  std::vector<uint8_t> packet = PacketBuilder::Udp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 2, payload);
  std::vector<uint8_t> frame = GsoSuperPacket(packet, 1000);
  FrameBatch out(8, 2048);
  absl::StatusOr<size_t> n = ConvertFrame(frame, FrameFormat::kVnet, FrameFormat::kIp, out);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4u);
  for (FrameView seg : out.frames()) EXPECT_EQ(seg.size(), 20u + 8 + 1000);
}

TEST(ConvertFrameTest, SameFormatCopiesAndFullBatchIsRefused) {
  std::vector<uint8_t> packet = {0x45, 0, 0, 4};
  FrameBatch out(1, 64);
  ASSERT_EQ(*ConvertFrame(packet, FrameFormat::kIp, FrameFormat::kIp, out), 1u);
  EXPECT_EQ(Bytes(out[0]), packet);
  EXPECT_TRUE(absl::IsResourceExhausted(
      ConvertFrame(packet, FrameFormat::kIp, FrameFormat::kIp, out).status()));
}

TEST(ConvertFrameTest, MalformedVnetFrameIsInvalid) {
  std::vector<uint8_t> tiny = {1, 2, 3};
  FrameBatch out(4, 2048);
  EXPECT_TRUE(absl::IsInvalidArgument(
      ConvertFrame(tiny, FrameFormat::kVnet, FrameFormat::kIp, out).status()));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace fstun
