#include "testing/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun::testing {
namespace {

long CurrentThreadId() { return syscall(SYS_gettid); }

absl::Status ErrnoStatus(absl::string_view what, int err) {
  std::string message = absl::StrCat(what, ": ", strerror(err));
  if (err == EPERM || err == EACCES) {
    return absl::PermissionDeniedError(
        absl::StrCat(message, " (a new network namespace needs CAP_SYS_ADMIN: run as root)"));
  }
  return absl::InternalError(message);
}

// Brings `lo` up with the classic ioctl, so this helper needs no netlink code.
absl::Status BringLoopbackUp() {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return ErrnoStatus("socket", errno);
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  absl::Status status;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    status = ErrnoStatus("SIOCGIFFLAGS lo", errno);
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) status = ErrnoStatus("SIOCSIFFLAGS lo", errno);
  }
  close(sock);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScopedNetns>> ScopedNetns::Enter() {
  int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) return ErrnoStatus("open /proc/thread-self/ns/net", errno);
  if (unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    close(original);
    return ErrnoStatus("unshare(CLONE_NEWNET)", err);
  }
  // From here on the destructor restores the original namespace.
  std::unique_ptr<ScopedNetns> scope(new ScopedNetns(original, CurrentThreadId()));
  absl::Status lo = BringLoopbackUp();
  if (!lo.ok()) return lo;
  return scope;
}

ScopedNetns::~ScopedNetns() {
  CHECK_EQ(CurrentThreadId(), thread_id_)
      << "ScopedNetns destroyed on another thread than the one that entered it";
  PCHECK(setns(original_fd_, CLONE_NEWNET) == 0) << "returning to the original network namespace";
  close(original_fd_);
}

absl::Status RunInNewNetns(std::function<void()> body) {
  absl::Status status;
  std::thread worker([&status, &body] {
    absl::StatusOr<std::unique_ptr<ScopedNetns>> netns = ScopedNetns::Enter();
    if (!netns.ok()) {
      status = netns.status();
      return;
    }
    body();
  });
  worker.join();
  return status;
}

}  // namespace fstun::testing
