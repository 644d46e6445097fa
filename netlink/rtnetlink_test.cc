// Runs in a fresh network namespace per test (ScopedNetns), on a TUN
// interface the test creates with a bare ioctl, so nothing here depends on
// tun/ and nothing touches the host's network.
#include "netlink/rtnetlink.h"

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

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>

#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/netns.h"

namespace fstun {

// Readable failure messages (gtest finds these by argument-dependent lookup).
void PrintTo(const IpPrefix& p, std::ostream* os) { *os << p.ToString(); }
void PrintTo(const Route& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

IpPrefix Prefix(absl::string_view text) {
  absl::StatusOr<IpPrefix> p = IpPrefix::Parse(text);
  CHECK(p.ok()) << p.status();
  return *p;
}

IpAddress Address(absl::string_view text) {
  absl::StatusOr<IpAddress> a = IpAddress::Parse(text);
  CHECK(a.ok()) << a.status();
  return *a;
}

class RtNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto netns = testing::ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = *std::move(netns);
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.status();
    nl_ = *std::move(nl);
    tun_fd_ = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    ASSERT_GE(tun_fd_, 0) << strerror(errno);
    struct ifreq ifr = {};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, "nltest0", IFNAMSIZ - 1);
    ASSERT_EQ(ioctl(tun_fd_, TUNSETIFF, &ifr), 0) << strerror(errno);
  }

  void TearDown() override {
    nl_.reset();
    if (tun_fd_ >= 0) close(tun_fd_);
    netns_.reset();
  }

  int TunIndex() { return static_cast<int>(if_nametoindex("nltest0")); }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<RtNetlink> nl_;
  int tun_fd_ = -1;
};

TEST_F(RtNetlinkTest, LinkIndexFindsInterfacesAndNamesTheMissingOne) {
  absl::StatusOr<int> lo = nl_->LinkIndex("lo");
  ASSERT_TRUE(lo.ok()) << lo.status();
  EXPECT_EQ(*lo, static_cast<int>(if_nametoindex("lo")));

  absl::StatusOr<int> tun = nl_->LinkIndex("nltest0");
  ASSERT_TRUE(tun.ok()) << tun.status();
  EXPECT_EQ(*tun, TunIndex());

  absl::StatusOr<LinkInfo> lo_link = nl_->GetLink("lo");
  ASSERT_TRUE(lo_link.ok()) << lo_link.status();
  EXPECT_EQ(lo_link->kind, "");

  absl::StatusOr<int> missing = nl_->LinkIndex("nosuch0");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_EQ(missing.status().message(), "no interface named nosuch0");

  absl::StatusOr<int> too_long = nl_->LinkIndex("a_very_long_interface_name");
  EXPECT_TRUE(absl::IsInvalidArgument(too_long.status())) << too_long.status();
}

TEST_F(RtNetlinkTest, MtuQueueLengthAndUpDownAreVisibleInGetLink) {
  ASSERT_TRUE(nl_->SetMtu("nltest0", 1380).ok());
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  absl::StatusOr<LinkInfo> link = nl_->GetLink("nltest0");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->name, "nltest0");
  EXPECT_EQ(link->index, TunIndex());
  EXPECT_EQ(link->mtu, 1380u);
  EXPECT_TRUE(link->up);
  EXPECT_EQ(link->kind, "tun");

  ASSERT_TRUE(nl_->SetTxQueueLength("nltest0", 4000).ok());
  link = nl_->GetLink("nltest0");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->tx_queue_length, 4000u);

  ASSERT_TRUE(nl_->SetDown("nltest0").ok());
  link = nl_->GetLink(TunIndex());
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_FALSE(link->up);
  EXPECT_EQ(link->name, "nltest0");
}

TEST_F(RtNetlinkTest, BadMtuIsRefusedWithAClearMessage) {
  absl::Status status = nl_->SetMtu("nltest0", 70000);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("cannot set MTU 70000 on nltest0"));

  status = nl_->SetMtu("nosuch0", 1400);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_EQ(status.message(), "no interface named nosuch0");
}

TEST_F(RtNetlinkTest, AddressesAreAddedListedAndRemoved) {
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  const IpPrefix v4 = Prefix("192.0.2.1/24");
  const IpPrefix v6 = Prefix("2001:db8::1/64");
  ASSERT_TRUE(nl_->AddAddress("nltest0", v4).ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", v6).ok());

  absl::StatusOr<std::vector<IpPrefix>> addresses = nl_->ListAddresses("nltest0");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, Contains(v4));
  EXPECT_THAT(*addresses, Contains(v6));

  absl::Status again = nl_->AddAddress("nltest0", v4);
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_THAT(again.message(), HasSubstr("cannot add address 192.0.2.1/24 to nltest0"));

  ASSERT_TRUE(nl_->DeleteAddress("nltest0", v4).ok());
  addresses = nl_->ListAddresses("nltest0");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_THAT(*addresses, Not(Contains(v4)));
  EXPECT_THAT(*addresses, Contains(v6));

  absl::Status gone = nl_->DeleteAddress("nltest0", v4);
  EXPECT_TRUE(absl::IsNotFound(gone)) << gone;
}

TEST_F(RtNetlinkTest, Ipv6AddressIsUsableAtOnce) {
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", Prefix("2001:db8::1/64")).ok());
  // A tentative address (duplicate detection still running) cannot be bound.
  int sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  struct sockaddr_in6 sa = {};
  sa.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", &sa.sin6_addr);
  EXPECT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << strerror(errno);
  close(sock);
}

TEST_F(RtNetlinkTest, RoutesAreAddedListedAndDeleted) {
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", Prefix("192.0.2.1/24")).ok());
  const int tun = TunIndex();

  Route direct;
  direct.destination = Prefix("198.51.100.7/24");  // host bits are cleared
  direct.ifindex = tun;
  direct.metric = 50;
  ASSERT_TRUE(nl_->AddRoute(direct).ok());

  Route via;
  via.destination = Prefix("203.0.113.0/25");
  via.gateway = Address("192.0.2.254");
  ASSERT_TRUE(nl_->AddRoute(via).ok());

  absl::StatusOr<std::vector<Route>> routes = nl_->ListRoutes(4);
  ASSERT_TRUE(routes.ok()) << routes.status();
  Route direct_listed = direct;
  direct_listed.destination = Prefix("198.51.100.0/24");
  EXPECT_THAT(*routes, Contains(direct_listed));
  Route via_listed = via;
  via_listed.ifindex = tun;  // the kernel found the link from the gateway
  EXPECT_THAT(*routes, Contains(via_listed));

  absl::Status again = nl_->AddRoute(direct);
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_THAT(again.message(), HasSubstr("cannot add route 198.51.100.7/24"));

  ASSERT_TRUE(nl_->DeleteRoute(direct).ok());
  ASSERT_TRUE(nl_->DeleteRoute(via).ok());
  routes = nl_->ListRoutes(4);
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_THAT(*routes, Not(Contains(direct_listed)));
  EXPECT_THAT(*routes, Not(Contains(via_listed)));

  absl::Status gone = nl_->DeleteRoute(direct);
  EXPECT_TRUE(absl::IsNotFound(gone)) << gone;
}

TEST_F(RtNetlinkTest, DefaultRoutesComeWithGatewayInterfaceAndMetricLowestFirst) {
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", Prefix("192.0.2.1/24")).ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", Prefix("2001:db8::1/64")).ok());
  const int tun = TunIndex();

  absl::StatusOr<std::vector<Route>> none = nl_->GetDefaultRoutes(4);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  Route backup;
  backup.destination = Prefix("0.0.0.0/0");
  backup.gateway = Address("192.0.2.253");
  backup.ifindex = tun;
  backup.metric = 200;
  Route primary = backup;
  primary.gateway = Address("192.0.2.254");
  primary.metric = 100;
  ASSERT_TRUE(nl_->AddRoute(backup).ok());
  ASSERT_TRUE(nl_->AddRoute(primary).ok());

  absl::StatusOr<std::vector<Route>> defaults = nl_->GetDefaultRoutes(4);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  ASSERT_EQ(defaults->size(), 2u);
  EXPECT_EQ((*defaults)[0], primary);
  EXPECT_EQ((*defaults)[1], backup);

  Route v6;
  v6.destination = Prefix("::/0");
  v6.gateway = Address("2001:db8::fe");
  v6.ifindex = tun;
  v6.metric = 300;
  ASSERT_TRUE(nl_->AddRoute(v6).ok());
  absl::StatusOr<std::vector<Route>> defaults6 = nl_->GetDefaultRoutes(6);
  ASSERT_TRUE(defaults6.ok()) << defaults6.status();
  ASSERT_EQ(defaults6->size(), 1u);
  EXPECT_EQ((*defaults6)[0], v6);
  // IPv4 and IPv6 lists stay apart.
  defaults = nl_->GetDefaultRoutes(4);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->size(), 2u);

  // Restoring: replace the primary with a new gateway, as a role would.
  Route moved = primary;
  moved.gateway = Address("192.0.2.250");
  ASSERT_TRUE(nl_->ReplaceRoute(moved).ok());
  defaults = nl_->GetDefaultRoutes(4);
  ASSERT_TRUE(defaults.ok());
  ASSERT_EQ(defaults->size(), 2u);
  EXPECT_EQ((*defaults)[0], moved);
}

TEST_F(RtNetlinkTest, Ipv6RoutesAreAddedAndDeleted) {
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", Prefix("2001:db8::1/64")).ok());
  Route route;
  route.destination = Prefix("2001:db8:1::/48");
  route.gateway = Address("2001:db8::fe");
  route.ifindex = TunIndex();
  route.metric = 10;
  ASSERT_TRUE(nl_->AddRoute(route).ok());
  absl::StatusOr<std::vector<Route>> routes = nl_->ListRoutes(6);
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_THAT(*routes, Contains(route));
  ASSERT_TRUE(nl_->DeleteRoute(route).ok());
  routes = nl_->ListRoutes(6);
  ASSERT_TRUE(routes.ok());
  EXPECT_THAT(*routes, Not(Contains(route)));
}

TEST_F(RtNetlinkTest, RouteErrorsAreClear) {
  ASSERT_TRUE(nl_->SetUp("nltest0").ok());
  ASSERT_TRUE(nl_->AddAddress("nltest0", Prefix("192.0.2.1/24")).ok());

  Route unreachable;
  unreachable.destination = Prefix("198.51.100.0/24");
  unreachable.gateway = Address("203.0.113.1");  // no link leads there
  absl::Status status = nl_->AddRoute(unreachable);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot add route 198.51.100.0/24 via 203.0.113.1"));

  Route nowhere;
  nowhere.destination = Prefix("198.51.100.0/24");
  status = nl_->AddRoute(nowhere);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("needs a gateway or an interface"));

  Route mixed;
  mixed.destination = Prefix("198.51.100.0/24");
  mixed.gateway = Address("2001:db8::fe");
  status = nl_->AddRoute(mixed);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;

  EXPECT_TRUE(absl::IsInvalidArgument(nl_->ListRoutes(5).status()));
}

TEST_F(RtNetlinkTest, DeleteLinkRemovesTheInterface) {
  ASSERT_TRUE(nl_->DeleteLink("nltest0").ok());
  EXPECT_TRUE(absl::IsNotFound(nl_->LinkIndex("nltest0").status()));
  EXPECT_TRUE(absl::IsNotFound(nl_->DeleteLink("nltest0")));
}

// Drops CAP_NET_ADMIN from the calling thread only (capabilities are
// per-thread), for the life of that thread.
bool DropNetAdminFromThisThread() {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
  data[CAP_NET_ADMIN / 32].permitted &= ~(1u << (CAP_NET_ADMIN % 32));
  return syscall(SYS_capset, &header, data) == 0;
}

TEST_F(RtNetlinkTest, WithoutCapNetAdminTheMessageSaysRunAsRoot) {
  absl::Status status;
  bool dropped = false;
  // The new thread inherits this thread's (test) namespace.
  std::thread unprivileged([&] {
    dropped = DropNetAdminFromThisThread();
    if (!dropped) return;
    auto nl = RtNetlink::Open();
    if (!nl.ok()) {
      status = nl.status();
      return;
    }
    status = (*nl)->AddAddress("nltest0", Prefix("192.0.2.1/24"));
  });
  unprivileged.join();
  ASSERT_TRUE(dropped);
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_EQ(status.message(),
            "cannot add address 192.0.2.1/24 to nltest0: need CAP_NET_ADMIN (run as root)");
}

}  // namespace
}  // namespace fstun
