#include "vnet/gso.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/event_fd.h"
#include "core/ip_address.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "testing/netns.h"
#include "testing/packet_builder.h"
#include "tun/tun_device.h"
#include "vnet/header.h"

namespace fstun {
namespace {

using ::fstun::testing::InternetChecksum;
using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

constexpr uint8_t kNeedsChecksum = 1;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) { return (uint32_t{Get16(p)} << 16) | Get16(p + 2); }

// A vnet frame: header fields in native order, then `packet`.
std::vector<uint8_t> VnetFrame(uint8_t flags, uint8_t gso_type, uint16_t gso_size,
                               uint16_t csum_start, uint16_t csum_offset,
                               const std::vector<uint8_t>& packet) {
  std::vector<uint8_t> frame = WithEmptyVnetHeader(packet);
  frame[0] = flags;
  frame[1] = gso_type;
  std::memcpy(&frame[4], &gso_size, 2);
  std::memcpy(&frame[6], &csum_start, 2);
  std::memcpy(&frame[8], &csum_offset, 2);
  return frame;
}

// True if the IP header (v4) and the TCP/UDP checksum of `p` verify.
bool ChecksumsVerify(FrameView p) {
  const bool v4 = (p[0] >> 4) == 4;
  const size_t ip_len = v4 ? (p[0] & 0x0f) * 4 : 40;
  if (v4 && InternetChecksum(p.subspan(0, ip_len)) != 0) return false;
  const uint8_t proto = v4 ? p[9] : p[6];
  uint32_t pseudo = 0;
  FrameView addrs = v4 ? p.subspan(12, 8) : p.subspan(8, 32);
  for (size_t i = 0; i < addrs.size(); i += 2) pseudo += (addrs[i] << 8) | addrs[i + 1];
  pseudo += proto + (p.size() - ip_len);
  return InternetChecksum(p.subspan(ip_len), pseudo) == 0;
}

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

TEST(SegmentVnetFrameTest, TcpV4SuperPacketBecomesValidSegments) {
  std::vector<uint8_t> data = Pattern(3500);
  std::vector<uint8_t> super = PacketBuilder::Tcp(Ip("192.0.2.1"), Ip("192.0.2.2"), 40000, 80, 1000,
                                                  77, /*PSH|ACK|FIN*/ 0x19, data);
  std::vector<uint8_t> frame = VnetFrame(kNeedsChecksum, 1, 1000, 20, 16, super);
  FrameBatch out(8, 2048);
  absl::StatusOr<size_t> n = SegmentVnetFrame(frame, out);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 4u);
  std::vector<uint8_t> joined;
  for (size_t i = 0; i < 4; ++i) {
    FrameView s = out[i];
    const size_t chunk = i < 3 ? 1000 : 500;
    ASSERT_EQ(s.size(), 40 + chunk);
    EXPECT_EQ(Get16(&s[2]), 40 + chunk);  // IPv4 total length
    EXPECT_TRUE(ChecksumsVerify(s)) << "segment " << i;
    EXPECT_EQ(Get32(&s[24]), 1000 + i * 1000);  // sequence number
    EXPECT_EQ(Get32(&s[28]), 77u);              // ack unchanged
    const uint8_t flags = s[33];
    EXPECT_EQ(flags & 0x10, 0x10);                              // ACK on all
    EXPECT_EQ((flags & 0x09) != 0, i == 3) << "segment " << i;  // FIN, PSH only on the last
    joined.insert(joined.end(), s.begin() + 40, s.end());
  }
  EXPECT_EQ(joined, data);
  EXPECT_NE(Get16(&out[0][4]), Get16(&out[1][4]));  // IPv4 ids differ
}

TEST(SegmentVnetFrameTest, TcpV6AndUdpSuperPacketsSegment) {
  std::vector<uint8_t> data = Pattern(2500);
  std::vector<uint8_t> tcp6 =
      PacketBuilder::Tcp(Ip("2001:db8::1"), Ip("2001:db8::2"), 1, 2, 5, 0, 0x10, data);
  FrameBatch out(8, 2048);
  absl::StatusOr<size_t> n =
      SegmentVnetFrame(VnetFrame(kNeedsChecksum, 4, 1200, 40, 16, tcp6), out);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 3u);
  for (FrameView s : out.frames()) {
    EXPECT_TRUE(ChecksumsVerify(s));
    EXPECT_EQ(Get16(&s[4]), s.size() - 40);  // IPv6 payload length
  }

  out.Clear();
  std::vector<uint8_t> udp = PacketBuilder::Udp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 2, data);
  n = SegmentVnetFrame(VnetFrame(kNeedsChecksum, kVirtioGsoUdpL4, 1000, 20, 6, udp), out);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 3u);
  for (size_t i = 0; i < 3; ++i) {
    FrameView s = out[i];
    EXPECT_TRUE(ChecksumsVerify(s));
    EXPECT_EQ(Get16(&s[24]), s.size() - 20);  // UDP length
  }
  EXPECT_EQ(out[2].size(), 20 + 8 + 500u);
}

TEST(SegmentVnetFrameTest, APartialChecksumIsCompleted) {
  std::vector<uint8_t> udp =
      PacketBuilder::Udp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 2, Pattern(100));
  // What the kernel hands over: the checksum field holds only the
  // pseudo-header sum.
  uint32_t pseudo = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 17 + (udp.size() - 20);
  while (pseudo >> 16) pseudo = (pseudo & 0xffff) + (pseudo >> 16);
  udp[26] = pseudo >> 8;
  udp[27] = pseudo & 0xff;
  ASSERT_FALSE(ChecksumsVerify(udp));
  FrameBatch out(2, 2048);
  absl::StatusOr<size_t> n = SegmentVnetFrame(VnetFrame(kNeedsChecksum, 0, 0, 20, 6, udp), out);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 1u);
  EXPECT_TRUE(ChecksumsVerify(out[0]));
}

TEST(SegmentVnetFrameTest, RefusesMalformedFramesAndLackOfRoom) {
  FrameBatch out(2, 2048);
  std::vector<uint8_t> tiny(4);
  EXPECT_TRUE(absl::IsInvalidArgument(SegmentVnetFrame(tiny, out).status()));

  std::vector<uint8_t> udp =
      PacketBuilder::Udp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 2, Pattern(3000));
  // Says TCP, is UDP.
  EXPECT_TRUE(absl::IsInvalidArgument(
      SegmentVnetFrame(VnetFrame(kNeedsChecksum, 1, 1000, 20, 16, udp), out).status()));
  // Three segments, two free slots: nothing appended.
  absl::StatusOr<size_t> n =
      SegmentVnetFrame(VnetFrame(kNeedsChecksum, kVirtioGsoUdpL4, 1000, 20, 6, udp), out);
  EXPECT_TRUE(absl::IsResourceExhausted(n.status())) << n.status();
  EXPECT_EQ(out.size(), 0u);
}

// End to end: a TCP transfer from namespace A, whose TUN uses offloads, to
// namespace B, whose TUN does not. The test forwards between the two TUNs:
// A's super-packets are segmented on the way to B, B's packets get an empty
// vnet header on the way to A. B's kernel checks every checksum.
TEST(SegmentVnetFrameTest, TcpFlowsFromAnOffloadingTunToAPlainOne) {
  constexpr size_t kBytes = 4 << 20;
  std::unique_ptr<TunDevice> tun_a, tun_b;
  absl::Notification b_listening, a_ready, done_forwarding;
  std::atomic<size_t> received{0};
  std::atomic<bool> b_failed{false};
  std::atomic<int> b_listener{-1};
  std::atomic<bool> b_data_intact{true};
  std::atomic<uint32_t> a_retransmits{0};

  std::thread b([&] {
    auto netns = testing::ScopedNetns::Enter();
    CHECK(netns.ok()) << netns.status();
    TunOptions options;
    options.name = "plainb";
    options.addresses = {*IpPrefix::Parse("192.0.2.2/24")};
    auto tun = TunDevice::Create(options);
    CHECK(tun.ok()) << tun.status();
    tun_b = *std::move(tun);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "192.0.2.2", &sa.sin_addr);
    CHECK_EQ(bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    CHECK_EQ(listen(listener, 1), 0);
    b_listener = listener;
    b_listening.Notify();
    int conn = accept(listener, nullptr, nullptr);  // shut down if A never connects
    if (conn < 0) {
      b_failed = true;
    } else {
      timeval timeout = {30, 0};
      setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      std::vector<uint8_t> buf(1 << 16);
      ssize_t n;
      size_t at = 0;
      while ((n = read(conn, buf.data(), buf.size())) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] != static_cast<uint8_t>((at + i) % 251)) b_data_intact = false;
        }
        at += n;
        received += n;
      }
      close(conn);
    }
    close(listener);
    done_forwarding.WaitForNotification();  // the TUN must outlive the forwarding
  });

  std::thread a([&] {
    auto netns = testing::ScopedNetns::Enter();
    CHECK(netns.ok()) << netns.status();
    TunOptions options;
    options.name = "offloada";
    options.addresses = {*IpPrefix::Parse("192.0.2.1/24")};
    options.vnet_hdr = true;
    auto tun = TunDevice::Create(options);
    CHECK(tun.ok()) << tun.status();
    tun_a = *std::move(tun);
    a_ready.Notify();
    b_listening.WaitForNotification();
    int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "192.0.2.2", &sa.sin_addr);
    timeval timeout = {20, 0};
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (connect(sock, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
      std::vector<uint8_t> data(kBytes);
      for (size_t i = 0; i < kBytes; ++i) data[i] = static_cast<uint8_t>(i % 251);
      size_t sent = 0;
      while (sent < data.size()) {
        ssize_t n = write(sock, data.data() + sent, data.size() - sent);
        if (n <= 0) break;
        sent += n;
      }
    }
    tcp_info info = {};
    socklen_t info_len = sizeof(info);
    if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &info_len) == 0) {
      a_retransmits = info.tcpi_total_retrans;
    }
    close(sock);  // B's read then ends (or the timeout does)
    done_forwarding.WaitForNotification();
  });

  a_ready.WaitForNotification();
  b_listening.WaitForNotification();
  FrameBatch from_a(64, kMaxFrameSize), to_b(256, 2048), from_b(64, 2048), to_a(64, 2048 + 16);
  size_t super_packets = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (received.load() < kBytes && !b_failed && absl::Now() < deadline) {
    WaitReadable(tun_a->fd(), absl::Milliseconds(1));
    from_a.Clear();
    ASSERT_TRUE(tun_a->Read(from_a).ok());
    for (FrameView f : from_a.frames()) {
      if (f.size() > kVirtioNetHdrSize + 1500) ++super_packets;
      absl::StatusOr<size_t> n = SegmentVnetFrame(f, to_b);
      ASSERT_TRUE(n.ok()) << n.status();
      if (to_b.size() + 64 > to_b.capacity()) {
        ASSERT_TRUE(tun_b->Write(to_b.frames()).ok());
        to_b.Clear();
      }
    }
    ASSERT_TRUE(tun_b->Write(to_b.frames()).ok());
    to_b.Clear();
    from_b.Clear();
    ASSERT_TRUE(tun_b->Read(from_b).ok());
    to_a.Clear();
    for (FrameView f : from_b.frames()) {
      absl::Span<uint8_t> slot = to_a.NextSlot();
      std::memset(slot.data(), 0, kVirtioNetHdrSize);
      std::memcpy(slot.data() + kVirtioNetHdrSize, f.data(), f.size());
      to_a.CommitNext(kVirtioNetHdrSize + f.size());
    }
    ASSERT_TRUE(tun_a->Write(to_a.frames()).ok());
  }
  shutdown(b_listener.load(), SHUT_RDWR);  // frees B if A never connected
  done_forwarding.Notify();
  a.join();
  b.join();
  EXPECT_FALSE(b_failed);
  EXPECT_EQ(received.load(), kBytes);
  EXPECT_TRUE(b_data_intact);
  // Every segment B's kernel refuses (bad checksum, wrong sequence number)
  // is sent again: broken segmentation costs thousands of retransmissions.
  // A lossless forwarder needs none, but a tail-loss probe may fire.
  EXPECT_LE(a_retransmits.load(), 5u);
  EXPECT_GT(super_packets, 0u) << "no super-packet came out of the offloading TUN";
  tun_a.reset();
  tun_b.reset();
}

}  // namespace
}  // namespace fstun
