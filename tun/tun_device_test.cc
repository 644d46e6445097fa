// Each test runs in its own fresh network namespace (ScopedNetns) and
// creates real TUN interfaces there; the kernel's IP stack plays the peer.
#include "tun/tun_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "core/event_fd.h"
#include "core/ip_address.h"
#include "core/send_checks.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netlink/rtnetlink.h"
#include "testing/netns.h"
#include "testing/packet_builder.h"

namespace fstun {

// Readable failure messages (gtest finds these by argument-dependent lookup).
void PrintTo(const IpPrefix& p, std::ostream* os) { *os << p.ToString(); }

namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;
using ::testing::Contains;
using ::testing::HasSubstr;

IpPrefix Prefix(absl::string_view text) {
  absl::StatusOr<IpPrefix> p = IpPrefix::Parse(text);
  CHECK(p.ok()) << p.status();
  return *p;
}

TunOptions Options(absl::string_view name, std::vector<std::string> addresses, size_t mtu = 1500) {
  TunOptions options;
  options.name = std::string(name);
  options.mtu = mtu;
  for (const std::string& a : addresses) options.addresses.push_back(Prefix(a));
  return options;
}

// Reads from `device` until a packet matches `want` (other traffic, such as
// IPv6 router solicitations, is skipped) or `timeout` passes.
std::optional<std::vector<uint8_t>> ReadMatching(TunDevice& device,
                                                 const std::function<bool(FrameView)>& want,
                                                 absl::Duration timeout = absl::Seconds(10)) {
  FrameBatch batch(16, kMaxFrameSize);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!WaitReadable(device.fd(), absl::Milliseconds(100))) continue;
    batch.Clear();
    absl::StatusOr<size_t> n = device.Read(batch);
    if (!n.ok()) {
      ADD_FAILURE() << n.status();
      return std::nullopt;
    }
    for (FrameView frame : batch.frames()) {
      if (want(frame)) return std::vector<uint8_t>(frame.begin(), frame.end());
    }
  }
  return std::nullopt;
}

int Protocol(FrameView ip) {
  if (ip.empty()) return -1;
  if ((ip[0] >> 4) == 4) return ip.size() >= 20 ? ip[9] : -1;
  if ((ip[0] >> 4) == 6) return ip.size() >= 40 ? ip[6] : -1;
  return -1;
}

size_t HeaderLength(FrameView ip) { return (ip[0] >> 4) == 4 ? (ip[0] & 0x0f) * 4 : 40; }

// The payload of a UDP packet to `dst` port `port`, if it is one.
std::optional<std::string> UdpPayloadTo(FrameView ip, const IpAddress& dst, uint16_t port) {
  if (Protocol(ip) != 17 || PacketDestination(ip) != dst) return std::nullopt;
  FrameView udp = ip.subspan(HeaderLength(ip));
  if (udp.size() < 8 || ((udp[2] << 8) | udp[3]) != port) return std::nullopt;
  return std::string(udp.begin() + 8, udp.end());
}

// Sends one UDP datagram from a kernel socket.
void SendUdp(absl::string_view dst, uint16_t port, absl::string_view payload) {
  IpAddress to = Ip(dst);
  int sock = socket(to.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  ssize_t sent;
  if (to.is_v4()) {
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    std::memcpy(&sa.sin_addr, to.bytes.data(), 4);
    sent = sendto(sock, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa),
                  sizeof(sa));
  } else {
    sockaddr_in6 sa = {};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, to.bytes.data(), 16);
    sent = sendto(sock, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa),
                  sizeof(sa));
  }
  EXPECT_EQ(sent, static_cast<ssize_t>(payload.size())) << strerror(errno);
  close(sock);
}

class TunDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto netns = testing::ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = *std::move(netns);
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.status();
    nl_ = *std::move(nl);
  }
  void TearDown() override {
    nl_.reset();
    netns_.reset();
  }

  std::unique_ptr<TunDevice> MustCreate(const TunOptions& options) {
    absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(options);
    EXPECT_TRUE(tun.ok()) << tun.status();
    return tun.ok() ? *std::move(tun) : nullptr;
  }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<RtNetlink> nl_;
};

TEST_F(TunDeviceTest, CreateBringsTheLinkUpWithMtuAndAddresses) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24", "2001:db8::1/64"}, 1400));
  ASSERT_NE(tun, nullptr);
  EXPECT_EQ(tun->name(), "tuntest0");
  EXPECT_EQ(tun->mtu(), 1400u);
  EXPECT_FALSE(tun->vnet_hdr());

  absl::StatusOr<LinkInfo> link = nl_->GetLink("tuntest0");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_TRUE(link->up);
  EXPECT_EQ(link->mtu, 1400u);
  EXPECT_EQ(link->index, tun->ifindex());

  absl::StatusOr<std::vector<IpPrefix>> addresses = nl_->ListAddresses("tuntest0");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, Contains(Prefix("192.0.2.1/24")));
  EXPECT_THAT(*addresses, Contains(Prefix("2001:db8::1/64")));

  EXPECT_EQ(link->tx_queue_length, 500u);  // the kernel's default

  int flags = fcntl(tun->fd(), F_GETFL);
  EXPECT_TRUE(flags & O_NONBLOCK);
  EXPECT_TRUE(fcntl(tun->fd(), F_GETFD) & FD_CLOEXEC);
}

TEST_F(TunDeviceTest, TheTransmitQueueLengthIsSetWhenAsked) {
  TunOptions options = Options("tuntest0", {"192.0.2.1/24"});
  options.tx_queue_length = 5000;
  auto tun = MustCreate(options);
  ASSERT_NE(tun, nullptr);
  absl::StatusOr<LinkInfo> link = nl_->GetLink("tuntest0");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->tx_queue_length, 5000u);
}

TEST_F(TunDeviceTest, DestroyingTheDeviceRemovesTheInterface) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24"}));
  ASSERT_NE(tun, nullptr);
  tun.reset();
  EXPECT_TRUE(absl::IsNotFound(nl_->LinkIndex("tuntest0").status()));
  // And the name is free again.
  EXPECT_NE(MustCreate(Options("tuntest0", {"192.0.2.1/24"})), nullptr);
}

TEST_F(TunDeviceTest, UdpSentToAPeerInTheSubnetIsReadFromTheTun) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24", "2001:db8::1/64"}));
  ASSERT_NE(tun, nullptr);

  SendUdp("192.0.2.2", 5000, "hello over v4");
  std::optional<std::vector<uint8_t>> v4 = ReadMatching(
      *tun, [](FrameView p) { return UdpPayloadTo(p, Ip("192.0.2.2"), 5000).has_value(); });
  ASSERT_TRUE(v4.has_value()) << "the UDP packet never came out of the TUN";
  EXPECT_EQ(*UdpPayloadTo(*v4, Ip("192.0.2.2"), 5000), "hello over v4");
  EXPECT_EQ(PacketSource(*v4), Ip("192.0.2.1"));

  SendUdp("2001:db8::2", 5001, "hello over v6");
  std::optional<std::vector<uint8_t>> v6 = ReadMatching(
      *tun, [](FrameView p) { return UdpPayloadTo(p, Ip("2001:db8::2"), 5001).has_value(); });
  ASSERT_TRUE(v6.has_value()) << "the UDP packet never came out of the TUN";
  EXPECT_EQ(*UdpPayloadTo(*v6, Ip("2001:db8::2"), 5001), "hello over v6");

  CounterSnapshot c = tun->counters();
  EXPECT_GE(c.rx_frames, 2u);
  EXPECT_GE(c.rx_bytes, v4->size() + v6->size());
}

TEST_F(TunDeviceTest, ReadStopsWhenTheBatchIsFullAndKeepsTheRest) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24"}));
  ASSERT_NE(tun, nullptr);
  for (int i = 0; i < 5; ++i) SendUdp("192.0.2.2", 6000, absl::StrCat("packet ", i));

  FrameBatch small(3, kMaxFrameSize);
  std::vector<std::string> payloads;
  bool filled_a_batch = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (payloads.size() < 5 && absl::Now() < deadline) {
    if (!WaitReadable(tun->fd(), absl::Milliseconds(100))) continue;
    small.Clear();
    absl::StatusOr<size_t> n = tun->Read(small);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_LE(*n, 3u);
    if (*n == 3) filled_a_batch = true;
    for (FrameView p : small.frames()) {
      std::optional<std::string> payload = UdpPayloadTo(p, Ip("192.0.2.2"), 6000);
      if (payload.has_value()) payloads.push_back(*payload);
    }
  }
  EXPECT_TRUE(filled_a_batch);
  EXPECT_THAT(payloads,
              ::testing::ElementsAre("packet 0", "packet 1", "packet 2", "packet 3", "packet 4"));
}

TEST_F(TunDeviceTest, TheKernelAnswersAnEchoRequestWrittenToTheTun) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24", "2001:db8::1/64"}));
  ASSERT_NE(tun, nullptr);
  std::vector<uint8_t> payload = {'p', 'i', 'n', 'g'};

  // One at a time: ReadMatching skips what it does not look for.
  std::vector<uint8_t> request4 =
      PacketBuilder::IcmpEcho(Ip("192.0.2.2"), Ip("192.0.2.1"), 0x1234, 1, payload);
  ASSERT_TRUE(tun->Write({FrameView(request4)}).ok());
  CounterSnapshot c = tun->counters();
  EXPECT_EQ(c.tx_frames, 1u);
  EXPECT_EQ(c.tx_bytes, request4.size());
  EXPECT_EQ(c.total_drops(), 0u);

  std::optional<std::vector<uint8_t>> reply4 = ReadMatching(*tun, [](FrameView p) {
    return Protocol(p) == 1 && PacketDestination(p) == Ip("192.0.2.2");
  });
  ASSERT_TRUE(reply4.has_value()) << "no ICMP echo reply";
  EXPECT_EQ(PacketSource(*reply4), Ip("192.0.2.1"));
  EXPECT_EQ((*reply4)[20], 0);  // echo reply
  std::vector<uint8_t> expected4 =
      PacketBuilder::IcmpEcho(Ip("192.0.2.1"), Ip("192.0.2.2"), 0x1234, 1, payload, /*reply=*/true);
  // ICMP part identical to what the builder makes (IP id and TTL may differ).
  EXPECT_EQ(std::vector<uint8_t>(reply4->begin() + 20, reply4->end()),
            std::vector<uint8_t>(expected4.begin() + 20, expected4.end()));

  // In the first milliseconds of a new interface's life the kernel (6.18)
  // sometimes answers no ICMPv6 echo at all; like ping, ask again.
  std::vector<uint8_t> request6 =
      PacketBuilder::IcmpEcho(Ip("2001:db8::2"), Ip("2001:db8::1"), 0x1234, 2, payload);
  std::optional<std::vector<uint8_t>> reply6;
  for (int attempt = 0; attempt < 10 && !reply6.has_value(); ++attempt) {
    ASSERT_TRUE(tun->Write({FrameView(request6)}).ok());
    reply6 = ReadMatching(
        *tun,
        [](FrameView p) {
          return Protocol(p) == 58 && PacketDestination(p) == Ip("2001:db8::2") && p.size() > 40 &&
                 p[40] == 129;  // ICMPv6 echo reply
        },
        absl::Milliseconds(500));
  }
  ASSERT_TRUE(reply6.has_value()) << "no ICMPv6 echo reply";
  EXPECT_EQ(PacketSource(*reply6), Ip("2001:db8::1"));
}

TEST_F(TunDeviceTest, AnExistingNameIsRefusedWithAHint) {
  auto first = MustCreate(Options("tuntest0", {"192.0.2.1/24"}));
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<TunDevice>> second =
      TunDevice::Create(Options("tuntest0", {"198.51.100.1/24"}));
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  EXPECT_EQ(second.status().message(),
            "interface tuntest0 already exists (a leftover? remove it with: ip link delete "
            "tuntest0)");
  // The first device was left alone.
  absl::StatusOr<std::vector<IpPrefix>> addresses = nl_->ListAddresses("tuntest0");
  ASSERT_TRUE(addresses.ok());
  EXPECT_THAT(*addresses, Contains(Prefix("192.0.2.1/24")));
  EXPECT_THAT(*addresses, ::testing::Not(Contains(Prefix("198.51.100.1/24"))));
}

TEST_F(TunDeviceTest, ALeftoverPersistentTunIsNotSilentlyReused) {
  // What a crashed `ip tuntap add` or an old daemon leaves behind.
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct ifreq ifr = {};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, "leftover0", IFNAMSIZ - 1);
  ASSERT_EQ(ioctl(fd, TUNSETIFF, &ifr), 0) << strerror(errno);
  ASSERT_EQ(ioctl(fd, TUNSETPERSIST, 1), 0) << strerror(errno);
  close(fd);

  absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(Options("leftover0", {}));
  EXPECT_TRUE(absl::IsAlreadyExists(tun.status())) << tun.status();
  EXPECT_THAT(tun.status().message(), HasSubstr("ip link delete leftover0"));
  EXPECT_TRUE(nl_->DeleteLink("leftover0").ok());  // (the namespace would go anyway)
}

TEST_F(TunDeviceTest, ANameTakenByAnotherKindOfInterfaceIsNotSuggestedForDeletion) {
  absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(Options("lo", {}));
  EXPECT_TRUE(absl::IsAlreadyExists(tun.status())) << tun.status();
  EXPECT_EQ(tun.status().message(),
            "interface lo already exists and is not a TUN interface: choose another interface "
            "name");
}

TEST_F(TunDeviceTest, BadOptionsAreRefusedBeforeAnythingIsCreated) {
  absl::StatusOr<std::unique_ptr<TunDevice>> tun =
      TunDevice::Create(Options("a_very_long_tun_name", {}));
  EXPECT_TRUE(absl::IsInvalidArgument(tun.status())) << tun.status();
  EXPECT_THAT(tun.status().message(), HasSubstr("too long"));

  tun = TunDevice::Create(Options("tun/0", {}));
  EXPECT_TRUE(absl::IsInvalidArgument(tun.status())) << tun.status();

  tun = TunDevice::Create(Options("tuntest0", {"2001:db8::1/64"}, 1000));
  EXPECT_TRUE(absl::IsInvalidArgument(tun.status())) << tun.status();
  EXPECT_THAT(tun.status().message(), HasSubstr("IPv6 needs at least 1280"));

  tun = TunDevice::Create(Options("tuntest0", {}, 70000));
  EXPECT_TRUE(absl::IsInvalidArgument(tun.status())) << tun.status();

  EXPECT_TRUE(absl::IsNotFound(nl_->LinkIndex("tuntest0").status()));
}

TEST_F(TunDeviceTest, ANamePatternGetsAKernelChosenName) {
  auto tun = MustCreate(Options("fstun%d", {"192.0.2.1/24"}));
  ASSERT_NE(tun, nullptr);
  EXPECT_EQ(tun->name(), "fstun0");
  EXPECT_TRUE(nl_->LinkIndex("fstun0").ok());
}

TEST_F(TunDeviceTest, AMissingCloneDeviceSaysHowToGetTun) {
  TunOptions options = Options("tuntest0", {});
  options.clone_device = "/nonexistent/net/tun";
  absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(options);
  EXPECT_TRUE(absl::IsFailedPrecondition(tun.status())) << tun.status();
  EXPECT_THAT(tun.status().message(), HasSubstr("modprobe tun"));
}

// Drops CAP_NET_ADMIN from the calling thread only (capabilities are per
// thread) for the rest of that thread's life.
bool DropNetAdminFromThisThread() {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
  data[CAP_NET_ADMIN / 32].permitted &= ~(1u << (CAP_NET_ADMIN % 32));
  return syscall(SYS_capset, &header, data) == 0;
}

TEST_F(TunDeviceTest, WithoutCapNetAdminTheMessageSaysRunAsRoot) {
  absl::Status status;
  bool dropped = false;
  std::thread unprivileged([&] {  // inherits the test's namespace
    dropped = DropNetAdminFromThisThread();
    if (dropped) status = TunDevice::Create(Options("tuntest0", {"192.0.2.1/24"})).status();
  });
  unprivileged.join();
  ASSERT_TRUE(dropped);
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("need CAP_NET_ADMIN (run as root)"));
}

TEST_F(TunDeviceTest, PacketsTheKernelRefusesAreCountedDrops) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24"}));
  ASSERT_NE(tun, nullptr);
  std::vector<uint8_t> not_ip(40, 0x00);  // version nibble 0
  std::vector<uint8_t> good = PacketBuilder::IcmpEcho(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 1, {});
  ASSERT_TRUE(tun->Write({FrameView(not_ip), FrameView(), FrameView(good)}).ok());
  CounterSnapshot c = tun->counters();
  EXPECT_EQ(c.drops_for(kDropTunWriteError), 1u);
  EXPECT_EQ(c.drops_for(kDropEmpty), 1u);
  EXPECT_EQ(c.tx_frames, 1u);

  ASSERT_TRUE(nl_->SetDown("tuntest0").ok());
  ASSERT_TRUE(tun->Write({FrameView(good)}).ok());
  EXPECT_EQ(tun->counters().drops_for(kDropTunDown), 1u);
  EXPECT_EQ(tun->counters().tx_frames, 1u);
}

TEST_F(TunDeviceTest, ADeletedInterfaceIsAnErrorNotADrop) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24"}));
  ASSERT_NE(tun, nullptr);
  ASSERT_TRUE(nl_->DeleteLink("tuntest0").ok());
  std::vector<uint8_t> good = PacketBuilder::IcmpEcho(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 1, {});
  absl::Status write = tun->Write({FrameView(good)});
  EXPECT_TRUE(absl::IsUnavailable(write)) << write;
  EXPECT_THAT(write.message(), HasSubstr("tuntest0 is gone"));
  FrameBatch batch(4, kMaxFrameSize);
  EXPECT_TRUE(absl::IsUnavailable(tun->Read(batch).status()));
}

TEST_F(TunDeviceTest, ReadRefusesSlotsTooSmallForAPacket) {
  auto tun = MustCreate(Options("tuntest0", {"192.0.2.1/24"}, 1500));
  ASSERT_NE(tun, nullptr);
  FrameBatch tiny(4, 512);
  absl::StatusOr<size_t> n = tun->Read(tiny);
  EXPECT_TRUE(absl::IsInvalidArgument(n.status())) << n.status();
}

}  // namespace
}  // namespace fstun
