// Socket endpoints: unix: and tcp:, connecting (with back-off) or listening
// (one connection at a time; a newer one replaces the current one, because
// a peer that reconnects is far more likely than two peers, and the old
// connection of a restarted peer may never report an error).
//
// syscalls (data path, after set-up), declared by each kind's syscalls():
// connecting: socket + connect (reconnects), poll (connect completion),
// getsockopt (SO_ERROR), setsockopt (TCP_NODELAY, keepalive); listening:
// accept4, getsockopt (SO_PEERCRED), getpeername, setsockopt.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "transports/stream/endpoint_kinds.h"

namespace fstun::stream {
namespace {

// A socket address for `a` (numeric host: no resolver on the data path).
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
};

SockAddr MakeSockAddr(const StreamAddress& a) {
  SockAddr s;
  if (a.kind == StreamAddress::Kind::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(&s.storage);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, a.path.c_str(), a.path.size() + 1);
    s.len = sizeof(sockaddr_un);
    s.family = AF_UNIX;
  } else if (auto* in4 = reinterpret_cast<sockaddr_in*>(&s.storage);
             inet_pton(AF_INET, a.host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(a.port);
    s.len = sizeof(sockaddr_in);
    s.family = AF_INET;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s.storage);
    inet_pton(AF_INET6, a.host.c_str(), &in6->sin6_addr);  // Parse checked it
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    s.len = sizeof(sockaddr_in6);
    s.family = AF_INET6;
  }
  return s;
}

void TuneConnection(int fd, int family) {
  if (family == AF_INET || family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // frames are latency-bound
    // A peer host that vanished (power loss, a cut cable) sends no reset;
    // keepalives find out within about 40 s so the connection is replaced.
    int idle = 20, interval = 5, count = 4;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  }
}

// "pid 42" for a Unix peer, "192.0.2.1:5000" for TCP.
std::string PeerOf(int fd, int family) {
  if (family == AF_UNIX) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      return absl::StrCat("pid ", cred.pid);
    }
    return "?";
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
    port = ntohs(in4->sin_port);
    return absl::StrCat(host, ":", port);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
  return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
}

class ConnectingEndpoint : public Endpoint {
 public:
  ConnectingEndpoint(const StreamAddress& address, const EndpointOptions& options)
      : address_(address),
        text_(address.ToString()),
        sockaddr_(MakeSockAddr(address)),
        backoff_(options.min_backoff, options.max_backoff) {}
  ~ConnectingEndpoint() override { CloseFd(); }

  absl::StatusOr<bool> Poll(absl::Time now) override {
    if (state_ == State::kConnected) return false;
    if (state_ == State::kConnecting) {
      pollfd p = {fd_, POLLOUT, 0};
      if (poll(&p, 1, 0) <= 0) return false;
      int err = 0;
      socklen_t len = sizeof(err);
      if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) return Failed(now, err);
      return Connected(now);
    }
    if (!fatal_.empty()) return absl::UnavailableError(fatal_);
    if (now < backoff_.retry_at()) return false;
    fd_ = socket(sockaddr_.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 && errno == EPERM) {
      // The seccomp filter (installed after set-up) does not allow this
      // socket: retrying would never succeed, so say so and stop; a
      // supervisor (systemd Restart=) starts a fresh fstun that connects
      // during set-up.
      fatal_ = absl::StrCat("stream: cannot reconnect to ", text_,
                            ": creating a socket is not allowed after set-up (seccomp); "
                            "restart fstun, or run it with --seccomp=false");
      return absl::UnavailableError(fatal_);
    }
    if (fd_ < 0) return Failed(now, errno);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&sockaddr_.storage), sockaddr_.len) == 0) {
      return Connected(now);
    }
    if (errno == EINPROGRESS) {
      state_ = State::kConnecting;
      return false;
    }
    return Failed(now, errno);
  }

  int read_fd() const override { return state_ == State::kConnected ? fd_ : -1; }
  int write_fd() const override { return read_fd(); }

  absl::Status Lost(absl::string_view why) override {
    absl::Time now = absl::Now();
    CloseFd();
    backoff_.Ended(now, now - connected_at_);
    LOG(WARNING) << "stream: connection to " << text_ << " lost (" << why << "); reconnecting in "
                 << (backoff_.retry_at() - now);
    return absl::OkStatus();
  }

  void AddWaitFds(std::vector<WaitFd>& out) const override {
    if (state_ == State::kConnecting) out.push_back({fd_, POLLOUT});
  }
  absl::Time next_retry() const override {
    return state_ == State::kIdle ? backoff_.retry_at() : absl::InfiniteFuture();
  }
  std::string Describe() const override {
    return state_ == State::kConnected ? absl::StrCat(text_, " (connected)")
                                       : absl::StrCat(text_, " (connecting)");
  }
  SyscallNeeds syscalls() const override {
    SyscallNeeds n;
    // Poll: socket + connect after back-off, poll + getsockopt(SO_ERROR)
    // for its completion, setsockopt (Connected: TCP_NODELAY, keepalive).
    n.syscalls = {"connect", "getsockopt", "setsockopt"};
    n.sockets = {{sockaddr_.family, SOCK_STREAM, 0}};
    return n;
  }

 private:
  enum class State { kIdle, kConnecting, kConnected };

  bool Connected(absl::Time now) {
    state_ = State::kConnected;
    connected_at_ = now;
    TuneConnection(fd_, sockaddr_.family);
    LOG(INFO) << "stream: connected to " << text_;
    return true;
  }

  bool Failed(absl::Time now, int err) {
    CloseFd();
    backoff_.Failed(now);
    LOG_EVERY_T(WARNING, 30) << "stream: cannot connect to " << text_ << ": " << strerror(err)
                             << " (retrying with back-off up to 5 s; this line at most every "
                                "30 s)";
    return false;
  }

  void CloseFd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    state_ = State::kIdle;
  }

  const StreamAddress address_;
  const std::string text_;
  const SockAddr sockaddr_;
  Backoff backoff_;
  State state_ = State::kIdle;
  int fd_ = -1;
  absl::Time connected_at_ = absl::InfinitePast();
  std::string fatal_;  // set when reconnecting can never work
};

class ListeningEndpoint : public Endpoint {
 public:
  ListeningEndpoint(const StreamAddress& address, int listen_fd, int family)
      : address_(address), text_(address.ToString()), listen_fd_(listen_fd), family_(family) {}
  ~ListeningEndpoint() override {
    if (conn_fd_ >= 0) close(conn_fd_);
    close(listen_fd_);
    if (address_.kind == StreamAddress::Kind::kUnix) unlink(address_.path.c_str());
  }

  absl::StatusOr<bool> Poll(absl::Time) override {
    bool fresh = false;
    while (true) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          LOG_EVERY_T(WARNING, 30) << "stream: accept on " << text_ << ": " << strerror(errno);
        }
        break;
      }
      if (conn_fd_ >= 0) {
        LOG(WARNING) << "stream: a new connection on " << text_ << " (" << PeerOf(fd, family_)
                     << ") replaces the current one (" << peer_ << ")";
        close(conn_fd_);
      }
      conn_fd_ = fd;
      peer_ = PeerOf(fd, family_);
      TuneConnection(fd, family_);
      LOG(INFO) << "stream: accepted a connection on " << text_ << " from " << peer_;
      fresh = true;
    }
    return fresh;
  }

  int read_fd() const override { return conn_fd_; }
  int write_fd() const override { return conn_fd_; }

  absl::Status Lost(absl::string_view why) override {
    if (conn_fd_ >= 0) close(conn_fd_);
    conn_fd_ = -1;
    LOG(WARNING) << "stream: connection on " << text_ << " from " << peer_ << " ended (" << why
                 << "); waiting for the next one";
    return absl::OkStatus();
  }

  void AddWaitFds(std::vector<WaitFd>& out) const override { out.push_back({listen_fd_, POLLIN}); }
  std::string Describe() const override {
    return conn_fd_ >= 0 ? absl::StrCat(text_, " (peer ", peer_, ")")
                         : absl::StrCat(text_, " (waiting for a connection)");
  }
  SyscallNeeds syscalls() const override {
    SyscallNeeds n;
    // Poll: accept4, then who it is (getsockopt SO_PEERCRED, getpeername)
    // and setsockopt (TCP_NODELAY, keepalive).
    n.syscalls = {"accept4", "accept", "getsockopt", "getpeername", "setsockopt"};
    return n;
  }

 private:
  const StreamAddress address_;
  const std::string text_;
  const int listen_fd_;
  const int family_;
  int conn_fd_ = -1;
  std::string peer_;
};

absl::StatusOr<std::unique_ptr<Endpoint>> Listen(const StreamAddress& address,
                                                 const EndpointOptions& options) {
  const std::string text = address.ToString();
  SockAddr sa = MakeSockAddr(address);
  if (address.kind == StreamAddress::Kind::kUnix) {
    struct stat st;
    if (lstat(address.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat("stream: ", text, ": ", address.path, " exists and is not a socket"));
      }
      // A live listener answers a connect; a stale socket file does not.
      int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      bool live =
          probe >= 0 && connect(probe, reinterpret_cast<const sockaddr*>(&sa.storage), sa.len) == 0;
      if (probe >= 0) close(probe);
      if (live) {
        return absl::FailedPreconditionError(
            absl::StrCat("stream: ", text, ": another process listens on ", address.path));
      }
      unlink(address.path.c_str());
    }
  }
  int fd = socket(sa.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("stream: socket: ", strerror(errno)));
  int one = 1;
  if (sa.family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sa.storage), sa.len) != 0 || listen(fd, 4) != 0) {
    int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("stream: cannot listen on ", text, ": ", strerror(err)));
  }
  if (address.kind == StreamAddress::Kind::kUnix && options.socket_owner.has_value()) {
    if (chown(address.path.c_str(), options.socket_owner->first, options.socket_owner->second) !=
        0) {
      LOG(WARNING) << "stream: chown " << address.path << ": " << strerror(errno);
    }
  }
  LOG(INFO) << "stream: listening on " << text;
  return std::unique_ptr<Endpoint>(new ListeningEndpoint(address, fd, sa.family));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Endpoint>> OpenSocketEndpoint(const StreamAddress& address,
                                                             const EndpointOptions& options) {
  if (address.listen) return Listen(address, options);
  return std::unique_ptr<Endpoint>(new ConnectingEndpoint(address, options));
}

}  // namespace fstun::stream
