// The tty endpoint: a serial port, a virtio-console port (/dev/hvc*,
// /dev/vport*) or a pty, in raw mode (no echo, no line editing, no CR/LF
// translation, 8 bits), so the line carries bytes unchanged. A serial line
// has no connection: it is "up" while the device is open. If reading or
// writing fails (a pty whose other side closed, a USB adapter unplugged),
// the device is closed and reopened with back-off.
//
// syscalls (data path, after set-up): openat + ioctl(TCGETS, TCSETS,
// TCFLSH) on reopen, close.
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "transports/stream/endpoint_kinds.h"

namespace fstun::stream {
namespace {

speed_t SpeedFor(int baud) {
  switch (baud) {
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    case 230400:
      return B230400;
    case 460800:
      return B460800;
    case 921600:
      return B921600;
    case 1000000:
      return B1000000;
    case 2000000:
      return B2000000;
    case 4000000:
      return B4000000;
    default:
      return 0;
  }
}

// Opens `path` non-blocking in raw mode. The message names the device.
absl::StatusOr<int> OpenRaw(const std::string& path, int baud) {
  int fd = open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("stream: cannot open ", path, ": ", strerror(errno)));
  }
  termios t;
  if (tcgetattr(fd, &t) != 0) {
    int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("stream: ", path, " is not a tty: ", strerror(err)));
  }
  cfmakeraw(&t);
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cflag &= ~CRTSCTS;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (baud != 0) {
    cfsetispeed(&t, SpeedFor(baud));
    cfsetospeed(&t, SpeedFor(baud));
  }
  if (tcsetattr(fd, TCSANOW, &t) != 0) {
    int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("stream: cannot put ", path, " in raw mode: ", strerror(err)));
  }
  tcflush(fd, TCIOFLUSH);  // what was queued before us is not ours
  return fd;
}

class TtyEndpoint : public Endpoint {
 public:
  TtyEndpoint(const StreamAddress& address, const EndpointOptions& options, int fd)
      : path_(address.path),
        baud_(options.tty_baud),
        backoff_(options.min_backoff, options.max_backoff),
        fd_(fd) {}
  ~TtyEndpoint() override {
    if (fd_ >= 0) close(fd_);
  }

  absl::StatusOr<bool> Poll(absl::Time now) override {
    if (fd_ >= 0) {
      bool fresh = !announced_;
      announced_ = true;
      return fresh;
    }
    if (now < backoff_.retry_at()) return false;
    absl::StatusOr<int> fd = OpenRaw(path_, baud_);
    if (!fd.ok()) {
      backoff_.Failed(now);
      LOG_EVERY_T(WARNING, 30) << fd.status().message() << " (retrying)";
      return false;
    }
    fd_ = *fd;
    opened_at_ = now;
    LOG(INFO) << "stream: reopened tty:" << path_;
    return true;
  }

  int read_fd() const override { return fd_; }
  int write_fd() const override { return fd_; }

  absl::Status Lost(absl::string_view why) override {
    absl::Time now = absl::Now();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    backoff_.Ended(now, now - opened_at_);
    LOG(WARNING) << "stream: tty:" << path_ << " failed (" << why << "); reopening";
    return absl::OkStatus();
  }

  void AddWaitFds(std::vector<WaitFd>&) const override {}
  absl::Time next_retry() const override {
    return fd_ < 0 ? backoff_.retry_at() : absl::InfiniteFuture();
  }
  std::string Describe() const override { return absl::StrCat("tty:", path_); }
  SyscallNeeds syscalls() const override {
    SyscallNeeds n;
    // Poll: reopening after a failure (OpenTty: openat, tcgetattr/
    // tcsetattr, tcflush).
    n.syscalls = {"openat"};
    n.ioctls = {TCGETS, TCSETS, TCFLSH};
    return n;
  }

 private:
  const std::string path_;
  const int baud_;
  Backoff backoff_;
  int fd_;
  bool announced_ = false;
  absl::Time opened_at_ = absl::Now();
};

}  // namespace

absl::StatusOr<std::unique_ptr<Endpoint>> OpenTtyEndpoint(const StreamAddress& address,
                                                          const EndpointOptions& options) {
  if (options.tty_baud != 0 && SpeedFor(options.tty_baud) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream: --stream_baud=", options.tty_baud,
                     " is not a standard speed (9600, 19200, 38400, 57600, 115200, ... 4000000)"));
  }
  absl::StatusOr<int> fd = OpenRaw(address.path, options.tty_baud);
  if (!fd.ok()) return fd.status();
  LOG(INFO) << "stream: tty:" << address.path << " open in raw mode";
  return std::unique_ptr<Endpoint>(new TtyEndpoint(address, options, *fd));
}

}  // namespace fstun::stream
