// The seccomp filter refuses what the data path never needs (with EPERM,
// the process lives on) and lets the data path itself run: two pumps joined
// by a sealed memory transport, file operations like the fs transport's,
// and a netlink socket like teardown's. Each case runs in a forked child,
// since a filter cannot be removed once installed.
#include "security/seccomp_filter.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/pump.h"
#include "core/syscalls.h"
#include "gtest/gtest.h"
#include "seal/sealed_transport.h"
#include "testing/fake_device.h"
#include "testing/packet_builder.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using ::fstun::testing::FakeDevice;
using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

// Runs `body` in a child that first installs the filter. The child reports
// failures on stderr and exits non-zero; a signal death is a failure too.
// What the daemon's own parts declare besides the core: teardown's netlink
// sockets and sd_notify's datagram socket.
SyscallNeeds Daemonish() {
  SyscallNeeds n = CoreSyscalls();
  n.syscalls.insert(n.syscalls.end(), {"sendto", "sendmsg", "recvfrom", "recvmsg", "bind",
                                       "connect", "getsockname", "setsockopt"});
  n.sockets = {{AF_NETLINK, -1, NETLINK_ROUTE}, {AF_UNIX, SOCK_DGRAM, -1}};
  return n;
}

// What a transport working on files declares (as the fs transport does).
SyscallNeeds FileTransport() {
  SyscallNeeds n;
  n.syscalls = {"mkdir",           "mkdirat", "rmdir",      "rename",        "renameat",
                "renameat2",       "unlink",  "unlinkat",   "pwrite64",      "pread64",
                "statfs",          "fstatfs", "getdents64", "inotify_init1", "inotify_add_watch",
                "inotify_rm_watch"};
  return n;
}

void RunFiltered(const std::function<bool()>& body, SyscallNeeds needs = Daemonish()) {
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    absl::Status s = InstallSeccompFilter(needs);
    if (!s.ok()) {
      fprintf(stderr, "install: %s\n", s.ToString().c_str());
      _exit(91);
    }
    bool ok = body();
    fflush(nullptr);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the child's messages above";
}

// For the child: prints and returns false if `cond` is false.
bool Check(bool cond, const std::string& what) {
  if (!cond) fprintf(stderr, "FAILED: %s (errno %d: %s)\n", what.c_str(), errno, strerror(errno));
  return cond;
}

bool Refused(long rc, const std::string& what) {
  return Check(rc == -1 && errno == EPERM, absl::StrCat(what, " must fail with EPERM, got ", rc));
}

std::string TmpDir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d ? d : "/tmp";
}

TEST(SeccompFilterTest, ForbiddenSyscallsFailWithEpermAndTheProcessLives) {
  RunFiltered([] {
    bool ok = true;
    ok &= Refused(socket(AF_INET, SOCK_STREAM, 0), "socket(AF_INET, SOCK_STREAM)");
    ok &= Refused(socket(AF_INET, SOCK_DGRAM, 0), "socket(AF_INET, SOCK_DGRAM)");
    ok &= Refused(socket(AF_INET6, SOCK_DGRAM, 0), "socket(AF_INET6)");
    ok &= Refused(socket(AF_PACKET, SOCK_RAW, 0), "socket(AF_PACKET)");
    ok &= Refused(socket(AF_UNIX, SOCK_STREAM, 0), "socket(AF_UNIX, SOCK_STREAM)");
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    ok &= Refused(execve("/bin/true", argv, environ), "execve");
    if (!SeccompAllowsSanitizerRuntime()) {  // ASan builds allow these for LSan
      ok &= Refused(fork(), "fork");
      ok &= Refused(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr), "ptrace");
    }
    ok &= Refused(setuid(0), "setuid");
    ok &= Refused(unshare(CLONE_NEWNET), "unshare");
    ok &= Refused(chroot("/"), "chroot");
    ok &= Refused(kill(1, 0), "kill(1)");
    // Trimmed from the old central list: the data path never calls them.
    std::string path = absl::StrCat(TmpDir(), "/seccomp_trim");
    ok &= Refused(chmod(TmpDir().c_str(), 0700), "chmod");
    ok &= Refused(link(path.c_str(), (path + "2").c_str()), "link");
    ok &= Refused(truncate(path.c_str(), 0), "truncate");
    ok &= Refused(fchownat(AT_FDCWD, path.c_str(), 0, 0, 0), "fchownat");
    struct rlimit rl;
    ok &= Check(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit (prlimit64 on itself)");
    ok &= Refused(prlimit(1, RLIMIT_NOFILE, nullptr, &rl), "prlimit64 on another process");
    // Netlink only for the protocols declared.
    ok &= Refused(socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC), "socket(NETLINK_GENERIC)");
    // Nothing declares file-system changes here.
    ok &= Refused(mkdir(path.c_str(), 0700), "mkdir (undeclared)");
    // A new TUN: opening /dev/net/tun may work, TUNSETIFF may not.
    int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun >= 0) {
      struct ifreq ifr {};
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      ok &= Refused(ioctl(tun, TUNSETIFF, &ifr), "ioctl(TUNSETIFF)");
      close(tun);
    }
    return ok;
  });
}

TEST(SeccompFilterTest, FileOperationsATransportDeclaresAreAllowed) {
  std::string dir = absl::StrCat(TmpDir(), "/seccomp_fs");
  RunFiltered(
      [&] {
        bool ok = true;
        ok &= Check(mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST, "mkdir");
        int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        ok &= Check(ino >= 0, "inotify_init1");
        ok &= Check(inotify_add_watch(ino, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) >= 0,
                    "inotify_add_watch");
        std::string tmp = dir + "/.tmp";
        std::string final_name = dir + "/0000000001";
        int fd = open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        ok &= Check(fd >= 0, "open(O_CREAT)");
        ok &= Check(pwrite(fd, "hello", 5, 0) == 5, "pwrite");
        ok &= Check(fsync(fd) == 0, "fsync");
        close(fd);
        ok &= Check(rename(tmp.c_str(), final_name.c_str()) == 0, "rename");
        char buf[16];
        fd = open(final_name.c_str(), O_RDONLY | O_CLOEXEC);
        ok &= Check(fd >= 0 && pread(fd, buf, sizeof(buf), 0) == 5, "open+pread");
        struct stat st;
        ok &= Check(fstat(fd, &st) == 0 && st.st_size == 5, "fstat");
        close(fd);
        struct statfs sfs;
        ok &= Check(statfs(dir.c_str(), &sfs) == 0, "statfs");
        ok &= Check(read(ino, buf, sizeof(buf)) != 0, "inotify read");
        DIR* d = opendir(dir.c_str());
        ok &= Check(d != nullptr && readdir(d) != nullptr, "opendir/readdir");
        if (d) closedir(d);
        ok &= Check(unlink(final_name.c_str()) == 0, "unlink");
        ok &= Check(rmdir(dir.c_str()) == 0, "rmdir");
        close(ino);
        // Teardown talks netlink.
        int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */);
        ok &= Check(nl >= 0, "socket(AF_NETLINK)");
        if (nl >= 0) close(nl);
        int unix_dgram = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ok &= Check(unix_dgram >= 0, "socket(AF_UNIX, SOCK_DGRAM) for sd_notify");
        if (unix_dgram >= 0) close(unix_dgram);
        return ok;
      },
      Daemonish().Add(FileTransport()));
}

TEST(SeccompFilterTest, ADeclaredUdpSocketIsAllowedAndNothingElse) {
  SyscallNeeds udp = Daemonish();
  udp.sockets.push_back({AF_INET, SOCK_DGRAM, -1});
  udp.syscalls.push_back("sendmmsg");
  RunFiltered(
      [] {
        bool ok = true;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ok &= Check(fd >= 0, "socket(AF_INET, SOCK_DGRAM)");
        if (fd >= 0) {
          struct mmsghdr m {};
          errno = 0;
          sendmmsg(fd, &m, 0, 0);
          ok &= Check(errno != EPERM, "sendmmsg declared");
          close(fd);
        }
        ok &= Refused(socket(AF_INET, SOCK_STREAM, 0), "socket(AF_INET, SOCK_STREAM)");
        ok &= Refused(socket(AF_INET6, SOCK_DGRAM, 0), "socket(AF_INET6)");
        return ok;
      },
      udp);
}

TEST(SeccompFilterTest, PumpsOverASealedTransportRunUnderTheFilter) {
  RunFiltered([] {
    std::string key = Key::Generate().ToBase64();
    MemoryTransportOptions options;
    options.mtu = 1400 + kSealOverhead;
    auto [a_inner, b_inner] = MemoryTransport::CreatePair(options);
    auto a = SealedTransport::Create(std::move(a_inner), *Key::FromBase64(key), {1400, 1, 0});
    auto b = SealedTransport::Create(std::move(b_inner), *Key::FromBase64(key), {1400, 2, 0});
    if (!Check(a.ok() && b.ok(), "create sealed transports")) return false;
    FakeDevice left({.name = "left0", .mtu = 1400});
    FakeDevice right({.name = "right0", .mtu = 1400});
    Pump left_pump(left, **a);
    Pump right_pump(right, **b);
    // Threads: clone3 gets ENOSYS, glibc falls back to clone(CLONE_THREAD).
    std::thread lt([&] { left_pump.Run().IgnoreError(); });
    std::thread rt([&] { right_pump.Run().IgnoreError(); });
    for (uint32_t i = 0; i < 200; ++i) {
      left.Inject(PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), i, 1000));
      right.Inject(PacketBuilder::TaggedUdp(Ip("192.0.2.1"), Ip("192.0.2.2"), i, 1000));
    }
    bool ok = Check(right.WaitForWritten(200, absl::Seconds(20)), "left -> right");
    ok &= Check(left.WaitForWritten(200, absl::Seconds(20)), "right -> left");
    left_pump.Stop();
    right_pump.Stop();
    lt.join();
    rt.join();
    return ok;
  });
}

TEST(SeccompFilterTest, ADeclarationCannotAllowWhatTheDataPathMayNeverCall) {
  for (const char* bad : {"execve", "ptrace", "mount", "setuid", "socket", "ioctl", "clone"}) {
    SyscallNeeds needs = CoreSyscalls();
    needs.syscalls.push_back(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(InstallSeccompFilter(needs))) << bad;
  }
  for (const std::string& name : CoreSyscalls().syscalls) {
    const std::vector<std::string>& forbidden = ForbiddenSyscalls();
    EXPECT_EQ(std::find(forbidden.begin(), forbidden.end(), name), forbidden.end()) << name;
  }
}

}  // namespace
}  // namespace fstun
