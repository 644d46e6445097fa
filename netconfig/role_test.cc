// ApplyRole / Restore / CleanupFromStateFile against a real kernel: each test
// runs in its own fresh network namespace (ScopedNetns) holding a TUN
// "fst0" (the tunnel) and a TUN "up0" standing in for the uplink with a
// default route. Sysctls are the namespace's own /proc/sys/net.
#include "netconfig/role.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netconfig/forwarding.h"
#include "netconfig/nat.h"
#include "netlink/rtnetlink.h"
#include "testing/netns.h"

namespace fstun {
namespace {

class RoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto netns = testing::ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::move(*netns);
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.status();
    nl_ = std::move(*nl);
    tun_fd_ = MakeTun("fst0", "192.0.2.1/24");
    up_fd_ = MakeTun("up0", "198.51.100.2/24");
    ASSERT_TRUE(nl_->AddAddress("fst0", *IpPrefix::Parse("2001:db8:1::1/64")).ok());
    ASSERT_TRUE(nl_->AddAddress("up0", *IpPrefix::Parse("2001:db8:ffff::2/64")).ok());
    Route def;
    def.destination = *IpPrefix::Parse("0.0.0.0/0");
    def.gateway = *IpAddress::Parse("198.51.100.1");
    def.metric = 100;
    def.protocol = 3;  // RTPROT_BOOT, as `ip route add` makes it
    ASSERT_TRUE(nl_->AddRoute(def).ok());
    const char* tmp = std::getenv("TEST_TMPDIR");
    state_path_ =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/role_",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".state");
  }
  void TearDown() override {
    nl_.reset();
    if (tun_fd_ >= 0) close(tun_fd_);
    if (up_fd_ >= 0) close(up_fd_);
    netns_.reset();
  }

  int MakeTun(const char* name, const char* address) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    EXPECT_GE(fd, 0) << strerror(errno);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    EXPECT_EQ(ioctl(fd, TUNSETIFF, &ifr), 0) << strerror(errno);
    EXPECT_TRUE(nl_->SetUp(name).ok());
    EXPECT_TRUE(nl_->AddAddress(name, *IpPrefix::Parse(address)).ok());
    return fd;
  }

  RoleConfig Config(const std::string& role) {
    RoleConfig c;
    c.role = role;
    c.ifname = "fst0";
    c.tunnel_prefixes = {*IpPrefix::Parse("192.0.2.1/24"), *IpPrefix::Parse("2001:db8:1::1/64")};
    c.mtu = 1400;
    c.state_path = state_path_;
    return c;
  }

  std::string Sysctl4() { return *Sysctl().Read("net/ipv4/ip_forward"); }
  std::string Sysctl6() { return *Sysctl().Read("net/ipv6/conf/all/forwarding"); }
  bool TableExists() { return *NftTableExists(NftTableChange{"inet", "fstun_fst0"}); }
  std::vector<std::string> Defaults(int family) {
    std::vector<std::string> out;
    std::vector<Route> routes = *nl_->GetDefaultRoutes(family);
    for (const Route& r : routes) {
      out.push_back(absl::StrCat(r.ToString(), " proto ", static_cast<int>(r.protocol)));
    }
    return out;
  }
  bool StateFileExists() { return access(state_path_.c_str(), F_OK) == 0; }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<RtNetlink> nl_;
  int tun_fd_ = -1;
  int up_fd_ = -1;
  std::string state_path_;
};

TEST_F(RoleTest, ServerTurnsOnForwardingAndNatAndRestoreUndoesBoth) {
  ASSERT_EQ(Sysctl4(), "0");
  ASSERT_EQ(Sysctl6(), "0");
  auto setup = ApplyRole(Config("server"));
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(Sysctl4(), "1");
  EXPECT_EQ(Sysctl6(), "1");
  EXPECT_TRUE(TableExists());
  EXPECT_TRUE(StateFileExists());

  ASSERT_TRUE((*setup)->Restore().ok());
  EXPECT_EQ(Sysctl4(), "0");
  EXPECT_EQ(Sysctl6(), "0");
  EXPECT_EQ(*Sysctl().Read("net/ipv4/conf/up0/forwarding"), "0");
  EXPECT_FALSE(TableExists());
  EXPECT_FALSE(StateFileExists());
  EXPECT_TRUE((*setup)->Restore().ok());  // idempotent
}

TEST_F(RoleTest, ServerLeavesForwardingOnIfItWasOn) {
  ASSERT_TRUE(Sysctl().Write("net/ipv4/ip_forward", "1").ok());
  {
    auto setup = ApplyRole(Config("server"));
    ASSERT_TRUE(setup.ok()) << setup.status();
  }  // the destructor restores
  EXPECT_EQ(Sysctl4(), "1");
  EXPECT_EQ(Sysctl6(), "0");
  EXPECT_FALSE(TableExists());
}

TEST_F(RoleTest, ClientReplacesTheDefaultRoutesAndRestoreBringsThemBack) {
  std::vector<std::string> before4 = Defaults(4), before6 = Defaults(6);
  auto setup = ApplyRole(Config("client"));
  ASSERT_TRUE(setup.ok()) << setup.status();
  int fst0 = *nl_->LinkIndex("fst0");
  auto now4 = *nl_->GetDefaultRoutes(4);
  ASSERT_EQ(now4.size(), 1u);
  EXPECT_EQ(now4[0].ifindex, fst0);
  auto now6 = *nl_->GetDefaultRoutes(6);
  ASSERT_EQ(now6.size(), 1u);
  EXPECT_EQ(now6[0].ifindex, fst0);

  ASSERT_TRUE((*setup)->Restore().ok());
  EXPECT_EQ(Defaults(4), before4);  // with its protocol (boot), not "static"
  EXPECT_NE(before4[0].find("proto 3"), std::string::npos) << before4[0];
  EXPECT_EQ(Defaults(6), before6);
  EXPECT_FALSE(StateFileExists());
}

TEST_F(RoleTest, SecondInstanceForTheSameInterfaceFailsAndChangesNothing) {
  auto first = ApplyRole(Config("client"));
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<std::string> during = Defaults(4);
  auto second = ApplyRole(Config("server"));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("already running"), std::string::npos);
  EXPECT_EQ(Sysctl4(), "0");
  EXPECT_FALSE(TableExists());
  EXPECT_EQ(Defaults(4), during);
  ASSERT_TRUE((*first)->Restore().ok());
}

TEST_F(RoleTest, FailedSetUpRollsBackWhatItChanged) {
  std::vector<std::string> before = Defaults(4);
  RoleConfig c = Config("client");
  // The second route collides with the first: the add fails after the first
  // one went in.
  c.split_routes = {*IpPrefix::Parse("203.0.113.0/24"), *IpPrefix::Parse("203.0.113.7/24")};
  auto setup = ApplyRole(c);
  ASSERT_FALSE(setup.ok());
  EXPECT_EQ(Defaults(4), before);
  std::vector<Route> routes = *nl_->ListRoutes(4);
  for (const Route& r : routes) {
    EXPECT_NE(r.destination.ToString(), "203.0.113.0/24") << r.ToString();
  }
  EXPECT_FALSE(StateFileExists());
}

TEST_F(RoleTest, CleanupRestoresWhatADeadInstanceLeft) {
  // What a server killed with -9 leaves: a journal owned by a dead pid, with
  // every change made.
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  HostState owner;
  owner.pid = child;
  owner.ifname = "fst0";
  owner.role = "server";
  auto journal = StateFile::Create(state_path_, owner);
  ASSERT_TRUE(journal.ok()) << journal.status();
  ASSERT_TRUE(
      InstallNat(NatConfig{"fst0", Config("server").tunnel_prefixes, 1400}, **journal).ok());
  ASSERT_TRUE(EnableForwarding(Sysctl(), 4, **journal).ok());
  ASSERT_EQ(Sysctl4(), "1");

  absl::Status s = CleanupFromStateFile(state_path_);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Sysctl4(), "0");
  EXPECT_FALSE(TableExists());
  EXPECT_FALSE(StateFileExists());
  EXPECT_TRUE(CleanupFromStateFile(state_path_).ok());  // nothing left to do
}

TEST_F(RoleTest, ApplyCleansUpAfterADeadInstanceFirst) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  HostState owner;
  owner.pid = child;
  owner.ifname = "fst0";
  owner.role = "client";
  auto journal = StateFile::Create(state_path_, owner);
  ASSERT_TRUE(journal.ok());
  ASSERT_TRUE(EnableForwarding(Sysctl(), 4, **journal).ok());

  auto setup = ApplyRole(Config("client"));
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(Sysctl4(), "0");  // the dead instance's change was undone
  ASSERT_TRUE((*setup)->Restore().ok());
}

TEST(RoleConfigTest, RefusesWhatCannotWork) {
  RoleConfig c;
  c.role = "router";
  c.ifname = "tun0";
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRoleConfig(c)));
  c.role = "server";
  c.ifname = "bad\"name";
  c.tunnel_prefixes = {*IpPrefix::Parse("192.0.2.1/24")};
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRoleConfig(c)));
  c.ifname = "tun0";
  c.split_routes = {*IpPrefix::Parse("203.0.113.0/24")};
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRoleConfig(c)));  // server + --routes
  c.split_routes.clear();
  EXPECT_TRUE(ValidateRoleConfig(c).ok());
}

}  // namespace
}  // namespace fstun
