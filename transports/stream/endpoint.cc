// Endpoints on descriptors that exist already (stdio, fd:), the stdio swap,
// and OpenEndpoint's dispatch to the socket and tty kinds.
#include "transports/stream/endpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "transports/stream/endpoint_kinds.h"

namespace fstun::stream {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat("stream: ", what, ": ", strerror(errno)));
}

bool SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// One connection for the life of the process; losing it is final.
class FdEndpoint : public Endpoint {
 public:
  FdEndpoint(int read_fd, int write_fd, std::string description)
      : read_fd_(read_fd), write_fd_(write_fd), description_(std::move(description)) {}
  ~FdEndpoint() override { CloseFds(); }

  absl::StatusOr<bool> Poll(absl::Time) override {
    if (read_fd_ < 0) return absl::UnavailableError(lost_);
    bool fresh = !announced_;
    announced_ = true;
    return fresh;
  }
  int read_fd() const override { return read_fd_; }
  int write_fd() const override { return write_fd_; }
  absl::Status Lost(absl::string_view why) override {
    CloseFds();
    lost_ = absl::StrCat("stream: ", description_, ": ", why,
                         " (the peer closed the stream; nothing reconnects it)");
    return absl::UnavailableError(lost_);
  }
  void AddWaitFds(std::vector<WaitFd>&) const override {}
  std::string Describe() const override { return description_; }
  // Only read, write and close on fds that exist: the core's.
  SyscallNeeds syscalls() const override { return {}; }

 private:
  void CloseFds() {
    if (read_fd_ >= 0) close(read_fd_);
    if (write_fd_ >= 0 && write_fd_ != read_fd_) close(write_fd_);
    read_fd_ = write_fd_ = -1;
  }

  int read_fd_;
  int write_fd_;
  const std::string description_;
  bool announced_ = false;
  std::string lost_;
};

}  // namespace

std::unique_ptr<Endpoint> EndpointFromFds(int read_fd, int write_fd, std::string description) {
  return std::make_unique<FdEndpoint>(read_fd, write_fd, std::move(description));
}

absl::StatusOr<std::pair<int, int>> TakeStdio() {
  if (isatty(STDIN_FILENO)) {
    return absl::FailedPreconditionError(
        "stream: standard input is a terminal; run fstun --transport=stream under ssh or "
        "socat (stdin/stdout carry the tunnel), or give --stream_address");
  }
  struct stat st;
  if (fstat(STDIN_FILENO, &st) != 0) {
    return absl::FailedPreconditionError(
        "stream: there is no standard input (closed); give --stream_address");
  }
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode)) {
    return absl::FailedPreconditionError(
        "stream: standard input is a file or device (e.g. /dev/null), not a stream: run fstun "
        "--transport=stream under ssh or socat, or give --stream_address");
  }
  int in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  if (in < 0) return Errno("dup stdin");
  int out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (out < 0) {
    close(in);
    return Errno("dup stdout");
  }
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    absl::Status s = Errno("redirect stdin/stdout");
    if (null >= 0) close(null);
    close(in);
    close(out);
    return s;
  }
  close(null);
  if (!SetNonBlocking(in) || !SetNonBlocking(out)) {
    absl::Status s = Errno("O_NONBLOCK on stdin/stdout");
    close(in);
    close(out);
    return s;
  }
  return std::make_pair(in, out);
}

absl::StatusOr<std::unique_ptr<Endpoint>> OpenEndpoint(const StreamAddress& address,
                                                       const EndpointOptions& options) {
  switch (address.kind) {
    case StreamAddress::Kind::kStdio: {
      absl::StatusOr<std::pair<int, int>> fds = TakeStdio();
      if (!fds.ok()) return fds.status();
      return EndpointFromFds(fds->first, fds->second, "stdio");
    }
    case StreamAddress::Kind::kFds: {
      for (int fd : {address.read_fd, address.write_fd}) {
        if (fcntl(fd, F_GETFD) < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("stream: ", address.ToString(), ": descriptor ", fd, " is not open"));
        }
        if (!SetNonBlocking(fd)) return Errno("O_NONBLOCK");
      }
      return EndpointFromFds(address.read_fd, address.write_fd, address.ToString());
    }
    case StreamAddress::Kind::kUnix:
    case StreamAddress::Kind::kTcp:
      return OpenSocketEndpoint(address, options);
    case StreamAddress::Kind::kTty:
      return OpenTtyEndpoint(address, options);
  }
  return absl::InternalError("stream: unknown address kind");
}

}  // namespace fstun::stream
