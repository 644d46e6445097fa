#include "core/event_fd.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "absl/time/clock.h"
#include "glog/logging.h"

namespace fstun {

EventFd::EventFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) { PCHECK(fd_ >= 0) << "eventfd"; }

EventFd::~EventFd() { close(fd_); }

void EventFd::Signal() const {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: it is readable already.
  [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof(one));
}

void EventFd::Drain() const {
  uint64_t value;
  [[maybe_unused]] ssize_t n = read(fd_, &value, sizeof(value));
}

bool WaitReadable(int fd, absl::Duration timeout) {
  struct pollfd p = {fd, POLLIN, 0};
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    struct timespec ts = absl::ToTimespec(left);
    int r = ppoll(&p, 1, timeout == absl::InfiniteDuration() ? nullptr : &ts, nullptr);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace fstun
