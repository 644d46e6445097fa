// EventFd: a Linux eventfd used as a wake-up signal that poll() can watch.
// Signal() is async-signal-safe, so a SIGTERM handler may call it.
#ifndef FSTUN_CORE_EVENT_FD_H_
#define FSTUN_CORE_EVENT_FD_H_

#include "absl/time/time.h"

namespace fstun {

class EventFd {
 public:
  EventFd();  // aborts if the kernel refuses an eventfd (out of fds)
  ~EventFd();
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;

  int fd() const { return fd_; }
  // Makes fd() readable until Drain().
  void Signal() const;
  // Makes fd() not readable again.
  void Drain() const;

 private:
  int fd_;
};

// Waits until `fd` is readable or `timeout` passes. Returns true if readable.
bool WaitReadable(int fd, absl::Duration timeout);

}  // namespace fstun

#endif  // FSTUN_CORE_EVENT_FD_H_
