#include "netconfig/routes.h"

#include <algorithm>
#include <cstdlib>

#include "gtest/gtest.h"

namespace fstun {
namespace {

// An in-memory main table with the kernel's add/delete answers.
class FakeRouteTable : public RouteTable {
 public:
  absl::StatusOr<std::vector<HostRoute>> List(int family) override {
    std::vector<HostRoute> out;
    for (const HostRoute& r : routes) {
      if (r.family() == family) out.push_back(r);
    }
    return out;
  }
  absl::Status Add(const HostRoute& route) override {
    if (std::find(routes.begin(), routes.end(), route) != routes.end()) {
      return absl::AlreadyExistsError("exists");
    }
    routes.push_back(route);
    return absl::OkStatus();
  }
  absl::Status Delete(const HostRoute& route) override {
    auto it = std::find(routes.begin(), routes.end(), route);
    if (it == routes.end()) return absl::NotFoundError("no such route");
    routes.erase(it);
    return absl::OkStatus();
  }
  std::vector<HostRoute> routes;
};

HostRoute Make(const char* dst, const char* gw, const char* dev, uint32_t metric) {
  HostRoute r;
  r.destination = IpPrefix::Parse(dst)->Network();
  if (gw != nullptr) r.gateway = *IpAddress::Parse(gw);
  r.device = dev;
  r.metric = metric;
  return r;
}

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    path_ = std::string(tmp != nullptr ? tmp : "/tmp") + "/routes_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".state";
    journal_ = std::move(*StateFile::Create(path_, OwnerForThisProcess("tun0", "client")));
    table_.routes = {
        Make("0.0.0.0/0", "198.51.100.1", "eth0", 100),
        Make("198.51.100.0/24", nullptr, "eth0", 0),
        Make("::/0", "2001:db8:ffff::1", "eth0", 1024),
        Make("192.0.2.0/24", nullptr, "tun0", 0),
    };
    original_ = table_.routes;
  }
  void TearDown() override { journal_->Remove().IgnoreError(); }

  void UndoAll() {
    auto state = StateFile::Read(path_);
    ASSERT_TRUE(state.ok()) << state.status();
    for (auto it = state->changes.rbegin(); it != state->changes.rend(); ++it) {
      ASSERT_TRUE(UndoRouteChange(table_, std::get<RouteChange>(*it)).ok());
    }
  }
  std::vector<HostRoute> Sorted(std::vector<HostRoute> v) {
    std::sort(v.begin(), v.end(),
              [](const HostRoute& a, const HostRoute& b) { return a.ToText() < b.ToText(); });
    return v;
  }

  std::string path_;
  std::unique_ptr<StateFile> journal_;
  FakeRouteTable table_;
  std::vector<HostRoute> original_;
};

TEST_F(RoutesTest, ReplacesTheDefaultRouteAndPutsTheOldOneBack) {
  ClientRouting r{"tun0", {*IpPrefix::Parse("192.0.2.2/24")}, {}, {}};
  ASSERT_TRUE(RouteThroughTunnel(table_, r, *journal_).ok());
  // IPv4 default now through the tunnel, the old one gone; IPv6 untouched
  // (the tunnel has no IPv6 address).
  std::vector<HostRoute> defaults4;
  for (const HostRoute& h : table_.routes) {
    if (h.is_default() && h.family() == 4) defaults4.push_back(h);
  }
  ASSERT_EQ(defaults4.size(), 1u);
  EXPECT_EQ(defaults4[0].Describe(), "default dev tun0 metric 1");
  EXPECT_NE(std::find(table_.routes.begin(), table_.routes.end(), original_[2]),
            table_.routes.end());

  UndoAll();
  EXPECT_EQ(Sorted(table_.routes), Sorted(original_));
  UndoAll();  // idempotent
  EXPECT_EQ(Sorted(table_.routes), Sorted(original_));
}

TEST_F(RoutesTest, ReplacesBothFamiliesWhenTheTunnelCarriesIpv6) {
  ClientRouting r{
      "tun0", {*IpPrefix::Parse("192.0.2.2/24"), *IpPrefix::Parse("2001:db8:1::2/64")}, {}, {}};
  ASSERT_TRUE(RouteThroughTunnel(table_, r, *journal_).ok());
  int through_tunnel = 0;
  for (const HostRoute& h : table_.routes) {
    if (h.is_default()) {
      EXPECT_EQ(h.device, "tun0") << h.Describe();
      ++through_tunnel;
    }
  }
  EXPECT_EQ(through_tunnel, 2);
  UndoAll();
  EXPECT_EQ(Sorted(table_.routes), Sorted(original_));
}

TEST_F(RoutesTest, SplitRoutesLeaveTheDefaultAlone) {
  ClientRouting r{
      "tun0", {*IpPrefix::Parse("192.0.2.2/24")}, {*IpPrefix::Parse("203.0.113.0/24")}, {}};
  ASSERT_TRUE(RouteThroughTunnel(table_, r, *journal_).ok());
  EXPECT_NE(std::find(table_.routes.begin(), table_.routes.end(), original_[0]),
            table_.routes.end());
  EXPECT_NE(std::find(table_.routes.begin(), table_.routes.end(),
                      Make("203.0.113.0/24", nullptr, "tun0", 1)),
            table_.routes.end());
  UndoAll();
  EXPECT_EQ(Sorted(table_.routes), Sorted(original_));
}

TEST_F(RoutesTest, KeepRouteCopiesTheRouteThatReachesTheAddressNow) {
  ClientRouting r{
      "tun0", {*IpPrefix::Parse("192.0.2.2/24")}, {}, {*IpAddress::Parse("203.0.113.9")}};
  ASSERT_TRUE(RouteThroughTunnel(table_, r, *journal_).ok());
  EXPECT_NE(std::find(table_.routes.begin(), table_.routes.end(),
                      Make("203.0.113.9/32", "198.51.100.1", "eth0", 100)),
            table_.routes.end());
  UndoAll();
  EXPECT_EQ(Sorted(table_.routes), Sorted(original_));
}

TEST_F(RoutesTest, KeepRouteWithNoRouteIsAClearError) {
  table_.routes.clear();
  ClientRouting r{
      "tun0", {*IpPrefix::Parse("192.0.2.2/24")}, {}, {*IpAddress::Parse("203.0.113.9")}};
  absl::Status s = RouteThroughTunnel(table_, r, *journal_);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("203.0.113.9"), std::string::npos) << s;
}

TEST_F(RoutesTest, SplitRouteOfAFamilyTheTunnelLacksIsRefusedBeforeAnyChange) {
  ClientRouting r{
      "tun0", {*IpPrefix::Parse("192.0.2.2/24")}, {*IpPrefix::Parse("2001:db8::/32")}, {}};
  absl::Status s = RouteThroughTunnel(table_, r, *journal_);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(table_.routes, original_);
  EXPECT_TRUE(StateFile::Read(path_)->changes.empty());
}

}  // namespace
}  // namespace fstun
