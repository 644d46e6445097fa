#include "netconfig/nat.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "testing/netns.h"

namespace fstun {
namespace {

NatConfig Config() {
  NatConfig c;
  c.ifname = "fst0";
  c.tunnel_prefixes = {*IpPrefix::Parse("192.0.2.1/24"), *IpPrefix::Parse("2001:db8:1::1/64")};
  c.mtu = 1400;
  return c;
}

TEST(NatRulesetTest, MasqueradesTheTunnelNetworksAndClampsMss) {
  std::string r = NatRuleset(Config());
  EXPECT_TRUE(absl::StrContains(r, "table inet fstun_fst0 {")) << r;
  EXPECT_TRUE(absl::StrContains(r, "oifname != \"fst0\" ip saddr 192.0.2.0/24 counter masquerade"))
      << r;
  EXPECT_TRUE(
      absl::StrContains(r, "oifname != \"fst0\" ip6 saddr 2001:db8:1::/64 counter masquerade"))
      << r;
  EXPECT_TRUE(absl::StrContains(r, "maxseg size set 1360")) << r;  // 1400 - 40
  EXPECT_TRUE(absl::StrContains(r, "maxseg size set 1340")) << r;  // 1400 - 60
}

TEST(NatRulesetTest, TableNameIsAnNftIdentifier) {
  EXPECT_EQ(NftTableName("tun0"), "fstun_tun0");
  EXPECT_EQ(NftTableName("my-tun.1"), "fstun_my_tun_1");
}

class NatNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto netns = testing::ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::move(*netns);
    const char* tmp = std::getenv("TEST_TMPDIR");
    state_path_ = std::string(tmp != nullptr ? tmp : "/tmp") + "/nat_test.state";
    auto file = StateFile::Create(state_path_, OwnerForThisProcess("fst0", "server"));
    ASSERT_TRUE(file.ok()) << file.status();
    journal_ = std::move(*file);
  }
  void TearDown() override {
    if (journal_) journal_->Remove().IgnoreError();
    netns_.reset();
  }
  std::unique_ptr<testing::ScopedNetns> netns_;
  std::string state_path_;
  std::unique_ptr<StateFile> journal_;
};

TEST_F(NatNetnsTest, InstallsTheTableAndOneDeleteRemovesIt) {
  ASSERT_TRUE(RunNft("add table inet someone_else\n").ok());
  absl::Status s = InstallNat(Config(), *journal_);
  ASSERT_TRUE(s.ok()) << s;

  // Recorded in the journal.
  auto state = StateFile::Read(state_path_);
  ASSERT_EQ(state->changes.size(), 1u);
  NftTableChange table = std::get<NftTableChange>(state->changes[0]);
  EXPECT_EQ(table.name, "fstun_fst0");

  auto listing = RunNft("list table inet fstun_fst0\n");
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_TRUE(absl::StrContains(*listing, "masquerade")) << *listing;
  EXPECT_TRUE(absl::StrContains(*listing, "maxseg size set 1360")) << *listing;
  EXPECT_TRUE(*NftTableExists(table));

  // Installing again (a restart) replaces the table instead of failing.
  ASSERT_TRUE(RunNft(NatRuleset(Config())).ok());

  ASSERT_TRUE(DeleteNftTable(table).ok());
  EXPECT_FALSE(*NftTableExists(table));
  ASSERT_TRUE(DeleteNftTable(table).ok());  // idempotent
  // Other tables are untouched.
  EXPECT_TRUE(*NftTableExists(NftTableChange{"inet", "someone_else"}));
}

TEST_F(NatNetnsTest, WithoutCapNetAdminTheErrorSaysSo) {
  pid_t child = fork();
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) _exit(3);
    data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
    if (syscall(SYS_capset, &header, data) != 0) _exit(3);
    absl::StatusOr<std::string> out = RunNft(NatRuleset(Config()));
    bool clear = absl::IsPermissionDenied(out.status()) &&
                 absl::StrContains(out.status().message(), "CAP_NET_ADMIN");
    _exit(clear ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(*NftTableExists(NftTableChange{"inet", "fstun_fst0"}));
}

TEST_F(NatNetnsTest, BadCommandsGiveOneLineErrors) {
  auto out = RunNft("this is not nft\n");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message().find('\n'), std::string::npos) << out.status();
}

}  // namespace
}  // namespace fstun
