// TunDevice with vnet headers and offloads (TunOptions::vnet_hdr), in a
// fresh network namespace per test.
#include "tun/offload.h"

#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "absl/time/clock.h"
#include "core/event_fd.h"
#include "core/ip_address.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "testing/netns.h"
#include "testing/packet_builder.h"
#include "tun/tun_device.h"
#include "vnet/header.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

constexpr uint8_t kNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM

class TunOffloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto netns = testing::ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = *std::move(netns);
    TunOptions options;
    options.name = "vnet0";
    options.mtu = 1500;
    options.addresses = {*IpPrefix::Parse("192.0.2.1/24")};
    options.vnet_hdr = true;
    absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(options);
    ASSERT_TRUE(tun.ok()) << tun.status();
    tun_ = *std::move(tun);
  }
  void TearDown() override {
    tun_.reset();
    netns_.reset();
  }

  // The first frame whose IP packet matches `want`, within 10 s.
  std::optional<std::vector<uint8_t>> ReadMatching(const std::function<bool(FrameView)>& want) {
    FrameBatch batch(8, kMaxFrameSize);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (!WaitReadable(tun_->fd(), absl::Milliseconds(100))) continue;
      batch.Clear();
      absl::StatusOr<size_t> n = tun_->Read(batch);
      if (!n.ok()) {
        ADD_FAILURE() << n.status();
        return std::nullopt;
      }
      for (FrameView frame : batch.frames()) {
        if (want(VnetPayload(frame))) return std::vector<uint8_t>(frame.begin(), frame.end());
      }
    }
    return std::nullopt;
  }

  // Sends `size` bytes of UDP to 192.0.2.2:7000, cut into `segment`-byte
  // datagrams by the stack (UDP GSO) when segment > 0.
  void SendUdp(size_t size, int segment) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sock, 0);
    if (segment > 0) {
      ASSERT_EQ(setsockopt(sock, SOL_UDP, UDP_SEGMENT, &segment, sizeof(segment)), 0)
          << strerror(errno);
    }
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "192.0.2.2", &sa.sin_addr);
    std::vector<char> payload(size, 'x');
    ASSERT_EQ(sendto(sock, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa),
                     sizeof(sa)),
              static_cast<ssize_t>(size))
        << strerror(errno);
    close(sock);
  }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<TunDevice> tun_;
};

bool IsUdpTo7000(FrameView ip) {
  return ip.size() >= 28 && (ip[0] >> 4) == 4 && ip[9] == 17 && ((ip[22] << 8) | ip[23]) == 7000;
}

TEST_F(TunOffloadTest, ChecksumAndTcpSegmentationOffloadsAreOn) {
  EXPECT_TRUE(tun_->vnet_hdr());
  const unsigned want = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  EXPECT_EQ(tun_->offload_flags() & want, want);
}

TEST_F(TunOffloadTest, FramesReadStartWithAVirtioHeader) {
  SendUdp(100, 0);
  std::optional<std::vector<uint8_t>> frame = ReadMatching(IsUdpTo7000);
  ASSERT_TRUE(frame.has_value()) << "no UDP frame read";
  EXPECT_EQ(frame->size(), kVirtioNetHdrSize + 20 + 8 + 100);
  std::optional<VirtioNetHeader> header = ParseVirtioNetHeader(*frame);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->gso_type, 0);  // VIRTIO_NET_HDR_GSO_NONE
  EXPECT_EQ(PacketDestination(VnetPayload(*frame)), Ip("192.0.2.2"));
  EXPECT_GE(tun_->counters().rx_bytes, frame->size());
}

TEST_F(TunOffloadTest, AUdpSuperPacketArrivesInOneRead) {
  if (!(tun_->offload_flags() & kTunOffloadUso4)) {
    GTEST_SKIP() << "this kernel has no UDP segmentation offload for TUN (needs Linux 6.2+)";
  }
  SendUdp(8000, 1000);
  std::optional<std::vector<uint8_t>> frame = ReadMatching(IsUdpTo7000);
  ASSERT_TRUE(frame.has_value()) << "no UDP frame read";
  std::optional<VirtioNetHeader> header = ParseVirtioNetHeader(*frame);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->gso_type, kVirtioGsoUdpL4);
  EXPECT_EQ(header->gso_size, 1000);
  EXPECT_TRUE(header->flags & kNeedsChecksum);
  // One frame carries all eight datagrams' payload, more than the MTU.
  EXPECT_EQ(frame->size(), kVirtioNetHdrSize + 20 + 8 + 8000);
  EXPECT_GT(frame->size(), tun_->mtu());
}

TEST_F(TunOffloadTest, APlainPacketWrittenWithAnEmptyHeaderIsAnswered) {
  std::vector<uint8_t> payload = {'p', 'i', 'n', 'g'};
  std::vector<uint8_t> request = WithEmptyVnetHeader(
      PacketBuilder::IcmpEcho(Ip("192.0.2.2"), Ip("192.0.2.1"), 0x4321, 1, payload));
  ASSERT_TRUE(tun_->Write({FrameView(request)}).ok());
  EXPECT_EQ(tun_->counters().tx_frames, 1u);
  EXPECT_EQ(tun_->counters().total_drops(), 0u);
  std::optional<std::vector<uint8_t>> reply = ReadMatching([](FrameView ip) {
    return ip.size() > 20 && (ip[0] >> 4) == 4 && ip[9] == 1 && ip[20] == 0;  // echo reply
  });
  ASSERT_TRUE(reply.has_value()) << "no ICMP echo reply";
  EXPECT_EQ(PacketDestination(VnetPayload(*reply)), Ip("192.0.2.2"));
}

TEST_F(TunOffloadTest, ReadNeedsSlotsForAFullSuperPacket) {
  FrameBatch mtu_sized(4, 2048);
  absl::StatusOr<size_t> n = tun_->Read(mtu_sized);
  EXPECT_TRUE(absl::IsInvalidArgument(n.status())) << n.status();
}

}  // namespace
}  // namespace fstun
