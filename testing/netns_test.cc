#include "testing/netns.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace fstun::testing {
namespace {

ino_t CurrentNetnsInode() {
  struct stat st = {};
  if (stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

std::set<std::string> InterfaceNames() {
  std::set<std::string> names;
  struct if_nameindex* list = if_nameindex();
  if (list == nullptr) return names;
  for (struct if_nameindex* i = list; i->if_index != 0; ++i) names.insert(i->if_name);
  if_freenameindex(list);
  return names;
}

// A TUN interface held open by the returned fd (-1 on failure).
int OpenTun(const char* name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr = {};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool IsUp(const char* name) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  bool up = ioctl(sock, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
  close(sock);
  return up;
}

TEST(ScopedNetnsTest, EntersAnEmptyNamespaceWithLoopbackUpAndReturns) {
  ino_t before = CurrentNetnsInode();
  ASSERT_NE(before, 0u);
  {
    auto netns = ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    EXPECT_NE(CurrentNetnsInode(), before);
    EXPECT_EQ(InterfaceNames(), std::set<std::string>{"lo"});
    EXPECT_TRUE(IsUp("lo"));
  }
  EXPECT_EQ(CurrentNetnsInode(), before);
}

TEST(ScopedNetnsTest, InterfacesCreatedInsideStayInside) {
  int tun_fd = -1;
  {
    auto netns = ScopedNetns::Enter();
    ASSERT_TRUE(netns.ok()) << netns.status();
    tun_fd = OpenTun("nstest0");
    ASSERT_GE(tun_fd, 0) << strerror(errno);
    EXPECT_NE(if_nametoindex("nstest0"), 0u);
  }
  // The fd keeps the namespace alive, yet its interface is not ours.
  EXPECT_EQ(if_nametoindex("nstest0"), 0u);
  close(tun_fd);
}

TEST(RunInNewNetnsTest, RunsTheBodyElsewhereAndLeavesTheCallerAlone) {
  ino_t caller = CurrentNetnsInode();
  ino_t inside = 0;
  std::set<std::string> names;
  absl::Status status = RunInNewNetns([&] {
    inside = CurrentNetnsInode();
    names = InterfaceNames();
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_NE(inside, 0u);
  EXPECT_NE(inside, caller);
  EXPECT_EQ(names, std::set<std::string>{"lo"});
  EXPECT_EQ(CurrentNetnsInode(), caller);
}

}  // namespace
}  // namespace fstun::testing
