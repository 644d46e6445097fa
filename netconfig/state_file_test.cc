#include "netconfig/state_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace fstun {
namespace {

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

HostRoute DefaultVia(const char* gw, const char* dev, uint32_t metric) {
  HostRoute r;
  r.destination = *IpPrefix::Parse("0.0.0.0/0");
  r.gateway = *IpAddress::Parse(gw);
  r.device = dev;
  r.metric = metric;
  return r;
}

HostState Sample() {
  HostState s;
  s.pid = 4242;
  s.start_time = 99;
  s.ifname = "tun0";
  s.role = "client";
  s.changes.push_back(SysctlChange{"net/ipv4/ip_forward", "0"});
  s.changes.push_back(NftTableChange{"inet", "fstun_tun0"});
  s.changes.push_back(
      RouteChange{RouteChange::Kind::kRemoved, DefaultVia("192.0.2.1", "eth0", 100)});
  HostRoute v6;
  v6.destination = *IpPrefix::Parse("::/0");
  v6.device = "tun0";
  v6.metric = 1;
  s.changes.push_back(RouteChange{RouteChange::Kind::kAdded, v6});
  return s;
}

TEST(HostStateTest, RoundTripsEveryKindOfChange) {
  HostState s = Sample();
  absl::StatusOr<HostState> back = HostState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->start_time, 99u);
  EXPECT_EQ(back->ifname, "tun0");
  EXPECT_EQ(back->role, "client");
  ASSERT_EQ(back->changes.size(), 4u);
  EXPECT_EQ(back->Serialize(), s.Serialize());
  const auto& removed = std::get<RouteChange>(back->changes[2]);
  EXPECT_EQ(removed.kind, RouteChange::Kind::kRemoved);
  EXPECT_EQ(removed.route.gateway->ToString(), "192.0.2.1");
  EXPECT_EQ(removed.route.metric, 100u);
  EXPECT_EQ(removed.route.device, "eth0");
  const auto& added = std::get<RouteChange>(back->changes[3]);
  EXPECT_EQ(added.route, std::get<RouteChange>(s.changes[3]).route);
  EXPECT_EQ(added.route.Describe(), "default dev tun0 metric 1");
}

TEST(HostStateTest, RejectsOtherFilesAndDamagedLines) {
  EXPECT_FALSE(HostState::Parse("hello\n").ok());
  EXPECT_FALSE(HostState::Parse("fstun-state 1\n").ok());  // no owner
  EXPECT_FALSE(
      HostState::Parse("fstun-state 1\nowner pid=1 start_time=2 ifname=t role=-\nbogus x=1\n")
          .ok());
  EXPECT_FALSE(
      HostState::Parse(
          "fstun-state 1\nowner pid=1 start_time=2 ifname=t role=-\nroute_added dst=nonsense\n")
          .ok());
}

TEST(HostStateTest, ParsesStrictly) {
  const std::string head = "fstun-state 1\nowner pid=1 start_time=2 ifname=t role=server\n";
  for (const char* line : {
           "sysctl path=net/ipv4/ip_forward previous=0 extra=1",     // unknown field
           "sysctl path=net/ipv4/ip_forward  previous=0",            // double space
           "sysctl path=net/ipv4/ip_forward previous=0 previous=1",  // twice
           "sysctl path=net/ipv4/conf/../forwarding previous=0",     // traversal
           "sysctl path=net/ipv4/conf/a/b/forwarding previous=0",    // not one name
           "sysctl path=/proc/sys/net/ipv4/ip_forward previous=0",   // absolute
           "sysctl path=net/ipv4/ip_forward previous=",              // empty value
           "nft_table family=ip name=fstun_t",                       // not inet
           "nft_table family=inet name=fstun_",                      // no interface
           "nft_table family=inet name=fstun_0123456789abcdefX",     // too long
           "route_added dst=0.0.0.0/0 dev=a/b metric=1 table=254",   // bad device
           "route_added dst=0.0.0.0/0 metric=1 table=254 sneaky=1",  // unknown field
           "owner pid=1 start_time=2 ifname=t role=server",          // second owner
       }) {
    EXPECT_FALSE(HostState::Parse(head + line + "\n").ok()) << line;
  }
  EXPECT_FALSE(HostState::Parse(head + "sysctl path=net/ipv4/ip_forward previous=0\r\n").ok());
  EXPECT_FALSE(
      HostState::Parse("fstun-state 1\nowner pid=1 start_time=2 ifname=a;b role=-\n").ok());
  EXPECT_FALSE(HostState::Parse("fstun-state 1\nowner pid=1 start_time=2 ifname=t role=x\n").ok());
  EXPECT_FALSE(HostState::Parse("fstun-state 1\nsysctl path=net/ipv4/ip_forward previous=0\n"
                                "owner pid=1 start_time=2 ifname=t role=-\n")
                   .ok());  // a change before its owner
  // What fstun writes itself still parses.
  for (const char* line : {
           "sysctl path=net/ipv6/conf/all/forwarding previous=0",
           "sysctl path=net/ipv4/conf/eth0.100/forwarding previous=1",
           "sysctl path=net/ipv4/conf/veth-a_b/forwarding previous=2",
           "nft_table family=inet name=fstun_tun_0",
       }) {
    EXPECT_TRUE(HostState::Parse(head + line + "\n").ok()) << line;
  }
}

TEST(StateFileTest, RefusesToRecordWhatItWouldRefuseToRead) {
  std::string path = TestDir() + "/refuse.state";
  auto file = StateFile::Create(path, Sample());
  ASSERT_TRUE(file.ok()) << file.status();
  absl::Status s = (*file)->Record(SysctlChange{"kernel/core_pattern", "0"});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_FALSE((*file)->Record(NftTableChange{"inet", "fstun_a;flush"}).ok());
  EXPECT_TRUE((*file)->state().changes.empty());
  EXPECT_TRUE(StateFile::Read(path)->changes.empty());
  ASSERT_TRUE((*file)->Remove().ok());
}

TEST(StateFileTest, RecordsDurablyAndReadsBack) {
  std::string path = TestDir() + "/a/b/tun0.state";  // directories are created
  auto file = StateFile::Create(path, Sample());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->state().changes.empty());  // Create starts an empty journal
  ASSERT_TRUE((*file)->Record(SysctlChange{"net/ipv4/ip_forward", "0"}).ok());
  ASSERT_TRUE((*file)->Record(NftTableChange{"inet", "fstun_tun0"}).ok());

  absl::StatusOr<HostState> read = StateFile::Read(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->changes.size(), 2u);
  EXPECT_EQ(std::get<SysctlChange>(read->changes[0]).previous, "0");
  EXPECT_EQ(std::get<NftTableChange>(read->changes[1]).name, "fstun_tun0");

  // No temporary files left next to it.
  DIR* dir = opendir((TestDir() + "/a/b").c_str());
  ASSERT_NE(dir, nullptr);
  int entries = 0;
  while (dirent* e = readdir(dir)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++entries;
  }
  closedir(dir);
  EXPECT_EQ(entries, 1);

  ASSERT_TRUE((*file)->Remove().ok());
  ASSERT_TRUE((*file)->Remove().ok());  // idempotent
  EXPECT_TRUE(absl::IsNotFound(StateFile::Read(path).status()));
}

TEST(StateFileTest, SecondCreateForTheSamePathFails) {
  std::string path = TestDir() + "/tun1.state";
  auto first = StateFile::Create(path, Sample());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = StateFile::Create(path, Sample());
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  // The first journal is untouched.
  ASSERT_TRUE((*first)->Record(NftTableChange{"inet", "fstun_tun1"}).ok());
  EXPECT_EQ(StateFile::Read(path)->changes.size(), 1u);
  ASSERT_TRUE((*first)->Remove().ok());
  auto third = StateFile::Create(path, Sample());
  EXPECT_TRUE(third.ok()) << third.status();
  ASSERT_TRUE((*third)->Remove().ok());
}

TEST(StateFileTest, DamagedFileIsDataLoss) {
  std::string path = TestDir() + "/damaged.state";
  std::ofstream(path) << "fstun-state 1\nowner pid=1";
  EXPECT_TRUE(absl::IsDataLoss(StateFile::Read(path).status()));
}

// As a daemon that dropped privileges after set-up: it can no longer unlink
// in the state directory.
void DropDacOverride() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) _exit(3);
  for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER}) {
    data[cap / 32].effective &= ~(1u << (cap % 32));
  }
  if (syscall(SYS_capset, &header, data) != 0) _exit(3);
}

TEST(StateFileTest, RemoveAfterDroppingPrivilegesEmptiesTheFile) {
  std::string dir = TestDir() + "/locked";
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  std::string path = dir + "/dropped.state";
  auto file = StateFile::Create(path, Sample());
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Record(SysctlChange{"net/ipv4/ip_forward", "0"}).ok());
  ASSERT_EQ(chmod(dir.c_str(), 0500), 0);
  pid_t child = fork();
  if (child == 0) {
    DropDacOverride();
    if (open((dir + "/x").c_str(), O_CREAT | O_WRONLY, 0600) >= 0 || errno != EACCES)
      _exit(4);  // locked
    _exit((*file)->Remove().ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  chmod(dir.c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(access(path.c_str(), F_OK), 0);                       // still there,
  EXPECT_TRUE(absl::IsNotFound(StateFile::Read(path).status()));  // but nothing to restore
  unlink(path.c_str());
}

TEST(StatePathTest, NamesTheInterfaceAndTheNetworkNamespace) {
  struct stat st = {};
  ASSERT_EQ(stat("/proc/thread-self/ns/net", &st), 0);
  EXPECT_EQ(DefaultStatePath("tun0", "/run/fstun"),
            "/run/fstun/tun0.net" + std::to_string(st.st_ino) + ".state");
}

TEST(ProcessTest, TellsLiveFromDeadAndReusedPids) {
  pid_t self = getpid();
  uint64_t start = ProcessStartTime(self);
  EXPECT_NE(start, 0u);
  EXPECT_TRUE(ProcessIsAlive(self, start));
  EXPECT_FALSE(ProcessIsAlive(self, start + 1));  // same pid, another process

  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(ProcessIsAlive(child, 0));
}

}  // namespace
}  // namespace fstun
