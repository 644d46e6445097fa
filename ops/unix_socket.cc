#include "ops/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace fstun {
namespace {

std::string Errno(int err) { return strerror(err); }

// Fills `addr` for `path`; for long paths opens the directory and returns
// its fd in `dir_fd` (the caller keeps it open until bind/connect is done).
absl::Status Address(const std::string& path, sockaddr_un& addr, UniqueFd& dir_fd) {
  addr = {};
  addr.sun_family = AF_UNIX;
  std::string target = path;
  if (path.size() >= sizeof(addr.sun_path)) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(absl::StrCat(dir, ": ", Errno(errno)));
    dir_fd = UniqueFd(fd);
    target = absl::StrCat("/proc/self/fd/", fd, "/", name);
    if (target.size() >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat("socket name too long: ", path));
    }
  }
  memcpy(addr.sun_path, target.data(), target.size());
  return absl::OkStatus();
}

// Waits for `events` on fd until `deadline`; Cancelled if cancel_fd fires.
absl::Status WaitFor(int fd, short events, absl::Time deadline, int cancel_fd) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("timed out");
    pollfd fds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
    int n = poll(fds, cancel_fd >= 0 ? 2 : 1,
                 static_cast<int>(absl::ToInt64Milliseconds(left + absl::Milliseconds(1))));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", Errno(errno)));
    }
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) return absl::CancelledError("stopping");
    if (fds[0].revents != 0) return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<UniqueFd> ConnectUnix(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dir_fd;
  if (absl::Status s = Address(path, addr, dir_fd); !s.ok()) return s;
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", Errno(errno)));
  // A unix stream connect completes or fails at once (EAGAIN: backlog full).
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    std::string what = absl::StrCat(path, ": ", Errno(err));
    if (err == ENOENT) return absl::NotFoundError(what);
    if (err == ECONNREFUSED) return absl::UnavailableError(what);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(what);
    if (err == EAGAIN) return absl::ResourceExhaustedError(what);
    return absl::InternalError(what);
  }
  return fd;
}

absl::StatusOr<UniqueFd> BindUnix(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dir_fd;
  if (absl::Status s = Address(path, addr, dir_fd); !s.ok()) return s;
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", Errno(errno)));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    std::string what = absl::StrCat("cannot bind ", path, ": ", Errno(err));
    if (err == EADDRINUSE) return absl::AlreadyExistsError(what);
    if (err == EACCES || err == EPERM || err == EROFS) return absl::PermissionDeniedError(what);
    return absl::InternalError(what);
  }
  return fd;
}

absl::Status WriteAllBy(int fd, absl::string_view data, absl::Time deadline, int cancel_fd) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (absl::Status s = WaitFor(fd, POLLOUT, deadline, cancel_fd); !s.ok()) return s;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("write: ", Errno(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadBy(int fd, size_t limit, bool stop_at_newline, absl::Time deadline,
                                   int cancel_fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    size_t want = std::min(sizeof(buf), limit - out.size() + 1);  // +1: detect overflow
    ssize_t n = recv(fd, buf, want, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (stop_at_newline && out.find('\n') != std::string::npos) return out;
      if (out.size() > limit) return absl::ResourceExhaustedError("too long");
      continue;
    }
    if (n == 0) return out;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (absl::Status s = WaitFor(fd, POLLIN, deadline, cancel_fd); !s.ok()) return s;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("read: ", Errno(errno)));
  }
}

}  // namespace fstun
