// Crafted state files (issue 12): whoever can plant a state file must not
// get root's help. Each test writes what an attacker would, runs what
// `fstun --cleanup` and every start run (CleanupFromStateFile, ApplyRole),
// and checks the refusal is a clear one-line error and that NOTHING changed:
// a victim nftables table and an fstun table listed before the bad line both
// survive, a victim file outside the fake /proc/sys keeps its contents, and
// the crafted file itself stays for a human to look at.
//
// Runs in a fresh network namespace it creates (ScopedNetns), outside
// Bazel's sandbox (tag no-sandbox) because files of another owner need
// chown(2) to another uid.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netconfig/nat.h"
#include "netconfig/role.h"
#include "netconfig/state_file.h"
#include "testing/netns.h"

namespace fstun {
namespace {

using ::testing::HasSubstr;

std::string Contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class StateFileAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto netns = testing::ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::move(*netns);
    const char* tmp = std::getenv("TEST_TMPDIR");
    work_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(work_.c_str(), 0700), 0);
    state_dir_ = work_ + "/state";
    ASSERT_EQ(mkdir(state_dir_.c_str(), 0700), 0);
    path_ = state_dir_ + "/fst0.state";
    // A fake /proc/sys with a victim file next to it.
    sysctl_root_ = work_ + "/sys";
    ASSERT_EQ(mkdir(sysctl_root_.c_str(), 0700), 0);
    std::ofstream(work_ + "/victim") << "precious\n";
    // A table that is not fstun's, and one fstun made (listed before the
    // crafted line: it must not be deleted either, nothing is half-done).
    ASSERT_TRUE(RunNft("add table inet victim\nadd table inet fstun_fst0\n").ok());
    // A dead owner, so clean-up would go ahead.
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, nullptr, 0);
    dead_pid_ = child;
  }
  void TearDown() override { netns_.reset(); }

  std::string Journal(absl::string_view crafted_line) {
    return absl::StrCat("fstun-state 1\nowner pid=", dead_pid_,
                        " start_time=0 ifname=fst0 role=server\n"
                        "nft_table family=inet name=fstun_fst0\n",
                        crafted_line, "\n");
  }
  void Plant(absl::string_view text, const std::string& path) {
    std::ofstream(path) << text;
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  }
  bool Table(const char* name) {
    absl::StatusOr<bool> exists = NftTableExists(NftTableChange{"inet", name});
    EXPECT_TRUE(exists.ok()) << exists.status();
    return exists.ok() && *exists;
  }
  // The refusal, and nothing changed.
  void ExpectRefusedAndUntouched(absl::string_view want_in_message) {
    absl::Status s = CleanupFromStateFile(path_, sysctl_root_);
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(want_in_message)));
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos) << "one line: " << s;
    EXPECT_TRUE(Table("victim"));
    EXPECT_TRUE(Table("fstun_fst0"));
    EXPECT_EQ(Contents(work_ + "/victim"), "precious\n");

    // A start finds the same file and refuses the same way, creating nothing.
    RoleConfig config;
    config.role = "server";
    config.ifname = "fst0";
    config.tunnel_prefixes = {*IpPrefix::Parse("192.0.2.1/24")};
    config.state_path = path_;
    config.sysctl_root = sysctl_root_;
    absl::StatusOr<std::unique_ptr<RoleSetup>> setup = ApplyRole(config);
    EXPECT_FALSE(setup.ok());
    EXPECT_THAT(std::string(setup.status().message()), HasSubstr(std::string(want_in_message)));
    EXPECT_TRUE(Table("victim"));
    EXPECT_TRUE(Table("fstun_fst0"));
    EXPECT_EQ(Contents(work_ + "/victim"), "precious\n");
  }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::string work_, state_dir_, path_, sysctl_root_;
  pid_t dead_pid_ = 0;
};

TEST_F(StateFileAttackTest, TraversalInASysctlPath) {
  Plant(Journal("sysctl path=../victim previous=1"), path_);
  ExpectRefusedAndUntouched("is not one fstun changes");
  Plant(Journal("sysctl path=net/ipv4/conf/../../../../victim/forwarding previous=1"), path_);
  ExpectRefusedAndUntouched("is not one fstun changes");
  Plant(Journal("sysctl path=kernel/core_pattern previous=1"), path_);
  ExpectRefusedAndUntouched("is not one fstun changes");
  Plant(Journal("sysctl path=net/ipv4/ip_forward previous=|/bin/sh"), path_);
  ExpectRefusedAndUntouched("is not a number");
  EXPECT_EQ(access(path_.c_str(), F_OK), 0);  // kept for a human to look at
}

TEST_F(StateFileAttackTest, NftNamesWithSeparatorsOrNotFstuns) {
  Plant(Journal("nft_table family=inet name=fstun_x;delete table inet victim"), path_);
  ExpectRefusedAndUntouched("field 'table' is not key=value");
  Plant(Journal("nft_table family=inet name=fstun_x;flush"), path_);
  ExpectRefusedAndUntouched("is not one fstun creates");
  Plant(Journal("nft_table family=inet name=victim"), path_);
  ExpectRefusedAndUntouched("is not one fstun creates");
  Plant(Journal("nft_table family=inet;flush name=fstun_x"), path_);
  ExpectRefusedAndUntouched("is not inet");
  Plant(Journal("nft_table family=inet name=fstun_x name=victim"), path_);
  ExpectRefusedAndUntouched("appears twice");
}

TEST_F(StateFileAttackTest, ASymlink) {
  std::string target = work_ + "/elsewhere.state";
  Plant(Journal("sysctl path=net/ipv4/ip_forward previous=0"), target);
  ASSERT_EQ(symlink(target.c_str(), path_.c_str()), 0);
  ExpectRefusedAndUntouched("is a symlink");
}

TEST_F(StateFileAttackTest, AFifo) {
  ASSERT_EQ(mkfifo(path_.c_str(), 0600), 0);  // opening it must not hang
  ExpectRefusedAndUntouched("not a regular file");
}

TEST_F(StateFileAttackTest, AnotherOwner) {
  Plant(Journal("sysctl path=net/ipv4/ip_forward previous=0"), path_);
  ASSERT_EQ(chown(path_.c_str(), 65534, 65534), 0);
  ExpectRefusedAndUntouched("belongs to uid 65534");
}

TEST_F(StateFileAttackTest, WritableByOthers) {
  Plant(Journal("sysctl path=net/ipv4/ip_forward previous=0"), path_);
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  ExpectRefusedAndUntouched("writable by group or others");
}

TEST_F(StateFileAttackTest, Oversize) {
  std::string text = Journal("sysctl path=net/ipv4/ip_forward previous=0");
  while (text.size() <= kMaxStateFileBytes) {
    absl::StrAppend(&text, "sysctl path=net/ipv4/conf/eth0/forwarding previous=0\n");
  }
  Plant(text, path_);
  ExpectRefusedAndUntouched("is larger than");
}

TEST_F(StateFileAttackTest, AStateDirectoryOthersCanWrite) {
  // docs/security.md: --state_dir must be writable by root only, not by the
  // --user account (which could plant a file for the next start).
  Plant(Journal("sysctl path=net/ipv4/ip_forward previous=0"), path_);
  ASSERT_EQ(chmod(state_dir_.c_str(), 0777), 0);
  ExpectRefusedAndUntouched("writable by group or others");
  ASSERT_EQ(chmod(state_dir_.c_str(), 0700), 0);
  ASSERT_EQ(chown(state_dir_.c_str(), 65534, 65534), 0);
  ExpectRefusedAndUntouched("belongs to uid 65534");
}

TEST_F(StateFileAttackTest, AGenuineFileStillRestores) {
  // The checks do not get in the way of the real thing.
  Plant(Journal("nft_table family=inet name=fstun_fst1"), path_);
  absl::Status s = CleanupFromStateFile(path_, sysctl_root_);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(Table("fstun_fst0"));
  EXPECT_TRUE(Table("victim"));
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace fstun
