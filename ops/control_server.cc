#include "ops/control_server.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "ops/control_protocol.h"

namespace fstun {
namespace {

absl::Status MakeDirectory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0) return absl::OkStatus();
  if (errno == ENOENT) {  // one level up (e.g. /run exists, /run/fstun not)
    size_t slash = dir.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
      if (absl::Status up = MakeDirectory(dir.substr(0, slash)); !up.ok()) return up;
      if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
    }
  }
  if (errno == EEXIST) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("cannot create control directory ", dir, ": ", strerror(errno)));
}

bool PeerMayAsk(int conn) {
  ucred cred = {};
  socklen_t len = sizeof(cred);
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == geteuid();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Listen(Options options) {
  if (!options.handler) return absl::InvalidArgumentError("control server without a handler");
  if (options.path.empty()) {  // only the ticks
    return std::unique_ptr<ControlServer>(new ControlServer(std::move(options), UniqueFd()));
  }
  size_t slash = options.path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirectory(options.path.substr(0, slash)); !s.ok()) return s;
  }
  absl::StatusOr<UniqueFd> fd = BindUnix(options.path);
  if (absl::IsAlreadyExists(fd.status())) {
    // Left by a daemon that died, or in use by a live one?
    absl::StatusOr<UniqueFd> probe = ConnectUnix(options.path);
    if (probe.ok() || absl::IsResourceExhausted(probe.status())) {
      return absl::AlreadyExistsError(absl::StrCat("another fstun answers on ", options.path,
                                                   " (same interface name in this namespace?)"));
    }
    unlink(options.path.c_str());
    fd = BindUnix(options.path);
  }
  if (!fd.ok()) return fd.status();
  if (chmod(options.path.c_str(), 0600) != 0 || listen(fd->get(), 8) != 0) {
    int err = errno;
    unlink(options.path.c_str());
    return absl::InternalError(absl::StrCat("control socket ", options.path, ": ", strerror(err)));
  }
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(options), std::move(*fd)));
}

ControlServer::ControlServer(Options options, UniqueFd listen_fd)
    : options_(std::move(options)), listen_fd_(std::move(listen_fd)) {}

ControlServer::~ControlServer() {
  Stop();
  // After a privilege drop this may fail (EACCES); the next daemon replaces
  // the stale socket, and clients see "no daemon".
  if (!options_.path.empty()) unlink(options_.path.c_str());
}

void ControlServer::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void ControlServer::Stop() {
  stop_.Signal();
  if (thread_.joinable()) thread_.join();
}

void ControlServer::Loop() {
  absl::Time next_tick = absl::Now() + options_.tick_interval;
  if (options_.on_tick) options_.on_tick();
  for (;;) {
    int timeout_ms = -1;
    if (options_.on_tick && options_.tick_interval != absl::InfiniteDuration()) {
      absl::Duration left = std::max(absl::ZeroDuration(), next_tick - absl::Now());
      timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    }
    pollfd fds[2] = {{stop_.fd(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}};
    int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      PLOG(ERROR) << "control socket: poll failed; status queries stop working";
      return;
    }
    if (fds[0].revents & POLLIN) return;
    if (n > 0 && (fds[1].revents & POLLIN)) {
      UniqueFd conn(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (conn.valid()) {
        ServeOne(conn.get());
      } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        // EMFILE, or EPERM from a seccomp list without accept4: say so once
        // in a while rather than spin.
        PLOG_EVERY_N(WARNING, 100) << "control socket: accept failed";
        absl::SleepFor(absl::Milliseconds(100));
      }
    }
    if (options_.on_tick && options_.tick_interval != absl::InfiniteDuration() &&
        absl::Now() >= next_tick) {
      options_.on_tick();
      next_tick = absl::Now() + options_.tick_interval;
    }
  }
}

void ControlServer::ServeOne(int conn) {
  absl::Time deadline = absl::Now() + options_.io_timeout;
  auto refuse = [&](absl::string_view why) {
    refused_.fetch_add(1);
    // Best effort: the client may be gone already.
    WriteAllBy(conn, absl::StrCat(kReplyErrorPrefix, why, "\n"), deadline, stop_.fd())
        .IgnoreError();
    // Closing with unread input would reset the connection and the client
    // could lose the reply: read and discard what it sent (bounded).
    shutdown(conn, SHUT_WR);
    ReadBy(conn, 1 << 20, /*stop_at_newline=*/false, deadline, stop_.fd()).IgnoreError();
  };
  if (!PeerMayAsk(conn)) {
    refuse("permission denied");
    return;
  }
  absl::StatusOr<std::string> request =
      ReadBy(conn, kMaxRequestBytes, /*stop_at_newline=*/true, deadline, stop_.fd());
  if (absl::IsResourceExhausted(request.status())) {
    refuse(absl::StrCat("request longer than ", kMaxRequestBytes, " bytes"));
    return;
  }
  if (absl::IsDeadlineExceeded(request.status())) {
    refuse("timed out waiting for the request");
    return;
  }
  if (!request.ok()) {
    refused_.fetch_add(1);
    return;
  }
  absl::string_view line = *request;
  if (!absl::ConsumeSuffix(&line, "\n")) {
    refuse("a request is one line ending in a newline");
    return;
  }
  absl::ConsumeSuffix(&line, "\r");
  if (line.find('\n') != absl::string_view::npos) {
    refuse("one request per connection");
    return;
  }
  absl::StatusOr<std::string> body = options_.handler(line);
  if (!body.ok()) {
    refuse(body.status().message());
    return;
  }
  served_.fetch_add(1);
  WriteAllBy(conn, absl::StrCat(kReplyOk, *body), deadline, stop_.fd()).IgnoreError();
}

}  // namespace fstun
