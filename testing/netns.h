// Fresh network namespaces for tests that create interfaces, addresses and
// routes, so nothing they do can reach the host's network.
//
// A network namespace belongs to a thread, not to a process: unshare() and
// setns() move only the calling thread. ScopedNetns moves the calling thread
// into a new, empty namespace (with `lo` up) and moves it back when
// destroyed. While inside:
//   * threads the calling thread starts inherit the new namespace; threads
//     started earlier (and the rest of the process) stay where they were;
//   * sockets, netlink sockets and TUN fds stay bound to the namespace they
//     were opened in, even after the thread leaves it; the namespace lives
//     until the last of them is closed;
//   * /sys/class/net is NOT remounted, so it still shows the old namespace:
//     ask netlink or ioctl() for interface facts, not sysfs.
// Needs CAP_SYS_ADMIN (root). Works inside the Bazel sandbox, where
// `ip netns add` does not (no writable /run/netns).
//
//   TEST(TunTest, Works) {
//     auto netns = ScopedNetns::Enter();
//     ASSERT_TRUE(netns.ok()) << netns.status();
//     ... create a TUN, addresses, routes: all vanish with the namespace ...
//   }
//
// Shell tests use testing/netns.sh instead.
#ifndef FSTUN_TESTING_NETNS_H_
#define FSTUN_TESTING_NETNS_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fstun::testing {

class ScopedNetns {
 public:
  // Moves the calling thread into a new network namespace and brings its
  // loopback interface up.
  static absl::StatusOr<std::unique_ptr<ScopedNetns>> Enter();
  // Moves the calling thread back to the namespace it was in before Enter().
  // Must run on the thread that called Enter() (aborts otherwise: returning
  // on another thread would leave the first one in the test namespace).
  ~ScopedNetns();

  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  ScopedNetns(int original_fd, long thread_id) : original_fd_(original_fd), thread_id_(thread_id) {}

  int original_fd_;  // /proc/thread-self/ns/net of the namespace we left
  long thread_id_;   // gettid() of the thread that entered
};

// Runs `body` on a new thread inside a new network namespace (lo up) and
// waits for it. The calling thread never changes namespace. Returns an error
// only if the namespace could not be created (then `body` does not run).
absl::Status RunInNewNetns(std::function<void()> body);

}  // namespace fstun::testing

#endif  // FSTUN_TESTING_NETNS_H_
