#include "netconfig/forwarding.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fstun {
namespace {

// A fake /proc/sys of plain files under $TEST_TMPDIR.
class ForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/proc_sys_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    state_path_ = root_ + ".state";
    for (const char* d :
         {"", "/net", "/net/ipv4", "/net/ipv4/conf", "/net/ipv6", "/net/ipv6/conf"}) {
      mkdir((root_ + d).c_str(), 0700);
    }
    auto file = StateFile::Create(state_path_, OwnerForThisProcess("tun0", "server"));
    ASSERT_TRUE(file.ok()) << file.status();
    journal_ = std::move(*file);
  }
  void TearDown() override { journal_->Remove().IgnoreError(); }

  void Put(const std::string& path, const std::string& value) {
    size_t slash = path.find_last_of('/');
    std::string dir = root_ + "/" + path.substr(0, slash);
    mkdir(dir.c_str(), 0700);
    std::ofstream(root_ + "/" + path) << value << "\n";
  }
  std::string Get(const std::string& path) { return *Sysctl(root_).Read(path); }

  std::string root_;
  std::string state_path_;
  std::unique_ptr<StateFile> journal_;
};

TEST_F(ForwardingTest, TurnsIpv4OnRecordingEveryValueItOverwrites) {
  Put("net/ipv4/ip_forward", "0");
  Put("net/ipv4/conf/all/forwarding", "0");
  Put("net/ipv4/conf/default/forwarding", "0");
  Put("net/ipv4/conf/eth0/forwarding", "1");  // an admin's per-interface choice
  Put("net/ipv4/conf/lo/forwarding", "0");
  Sysctl sysctl(root_);

  ASSERT_TRUE(EnableForwarding(sysctl, 4, *journal_).ok());
  EXPECT_EQ(Get("net/ipv4/ip_forward"), "1");

  // Recorded before the write, the global last so that it is undone first.
  auto state = StateFile::Read(state_path_);
  ASSERT_TRUE(state.ok());
  std::vector<std::string> paths;
  for (const HostChange& c : state->changes) paths.push_back(std::get<SysctlChange>(c).path);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "net/ipv4/conf/eth0/forwarding", "net/ipv4/conf/lo/forwarding",
                       "net/ipv4/conf/default/forwarding", "net/ipv4/conf/all/forwarding",
                       "net/ipv4/ip_forward"}));

  // What the kernel does on ip_forward=1: every interface follows.
  for (const char* n : {"all", "default", "eth0", "lo"})
    Put(absl::StrCat("net/ipv4/conf/", n, "/forwarding"), "1");

  for (auto it = state->changes.rbegin(); it != state->changes.rend(); ++it) {
    ASSERT_TRUE(RestoreSysctl(sysctl, std::get<SysctlChange>(*it)).ok());
  }
  EXPECT_EQ(Get("net/ipv4/ip_forward"), "0");
  EXPECT_EQ(Get("net/ipv4/conf/all/forwarding"), "0");
  EXPECT_EQ(Get("net/ipv4/conf/eth0/forwarding"), "1");
  EXPECT_EQ(Get("net/ipv4/conf/lo/forwarding"), "0");
}

TEST_F(ForwardingTest, LeavesForwardingThatWasOnAloneAndRecordsNothing) {
  Put("net/ipv4/ip_forward", "1");
  Put("net/ipv6/conf/all/forwarding", "1");
  Sysctl sysctl(root_);
  ASSERT_TRUE(EnableForwarding(sysctl, 4, *journal_).ok());
  ASSERT_TRUE(EnableForwarding(sysctl, 6, *journal_).ok());
  EXPECT_TRUE(StateFile::Read(state_path_)->changes.empty());
  EXPECT_EQ(Get("net/ipv4/ip_forward"), "1");
}

TEST_F(ForwardingTest, TurnsIpv6OnWithAllLast) {
  Put("net/ipv6/conf/all/forwarding", "0");
  Put("net/ipv6/conf/default/forwarding", "0");
  Put("net/ipv6/conf/eth0/forwarding", "0");
  Sysctl sysctl(root_);
  ASSERT_TRUE(EnableForwarding(sysctl, 6, *journal_).ok());
  EXPECT_EQ(Get("net/ipv6/conf/all/forwarding"), "1");
  auto state = StateFile::Read(state_path_);
  ASSERT_EQ(state->changes.size(), 3u);
  EXPECT_EQ(std::get<SysctlChange>(state->changes[2]).path, "net/ipv6/conf/all/forwarding");
  EXPECT_EQ(std::get<SysctlChange>(state->changes[2]).previous, "0");
}

TEST_F(ForwardingTest, RestoringAnEntryThatVanishedIsFine) {
  Sysctl sysctl(root_);
  EXPECT_TRUE(RestoreSysctl(sysctl, SysctlChange{"net/ipv4/conf/tun9/forwarding", "0"}).ok());
}

TEST_F(ForwardingTest, MissingProcEntryIsAClearError) {
  Sysctl sysctl(root_ + "/nonexistent");
  absl::Status s = EnableForwarding(sysctl, 4, *journal_);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("ip_forward"), std::string::npos) << s;
}

}  // namespace
}  // namespace fstun
