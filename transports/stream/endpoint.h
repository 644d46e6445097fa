// Endpoint: one end of a reliable byte stream, and how to (re)establish it.
// The stream transport reads and writes records on an endpoint's current
// connection; the endpoint knows nothing of records or frames.
//
// Every kind is non-blocking and driven by the owner's poll loop:
//
//   auto ep = OpenEndpoint(*ParseStreamAddress("unix:/run/x.sock"), {});
//   ...wait for the fds of ep->AddWaitFds (plus read_fd() readable) or until
//      ep->next_retry()...
//   absl::StatusOr<bool> fresh = ep->Poll(absl::Now());  // true: a new connection
//   read(ep->read_fd(), ...); write(ep->write_fd(), ...);
//   ...on EOF or a write error: ep->Lost("why"), which closes it and, for
//      sockets and ttys, schedules a reconnect with back-off...
//
// Kinds (stream_address.h): stdio and inherited fds are one connection for
// the life of the process (losing it is final: the tunnel's peer is gone);
// connecting sockets reconnect with back-off (100 ms doubling to 5 s; if
// the seccomp filter forbids the socket, that is final too, with a message
// saying so); a
// listening socket takes one connection at a time and a new one replaces
// the current one; a tty is opened in raw mode and reopened if it fails.
#ifndef FSTUN_TRANSPORTS_STREAM_ENDPOINT_H_
#define FSTUN_TRANSPORTS_STREAM_ENDPOINT_H_

#include <poll.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/syscalls.h"
#include "transports/stream/stream_address.h"

namespace fstun::stream {

// A descriptor and the poll events (POLLIN, POLLOUT) to wait for.
struct WaitFd {
  int fd;
  short events;
};

struct EndpointOptions {
  // Owner of a Unix socket file this end creates (listen:unix:), so the
  // peer can connect after the daemon dropped root.
  std::optional<std::pair<uint32_t, uint32_t>> socket_owner;  // uid, gid
  // tty:, non-zero: set this line speed (e.g. 115200).
  int tty_baud = 0;
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // Makes progress without blocking: completes a connect, accepts, retries
  // after back-off. True if a new connection came up since the last call
  // (the caller starts a fresh stream on it). An error means this endpoint
  // can never carry traffic again.
  virtual absl::StatusOr<bool> Poll(absl::Time now) = 0;

  bool connected() const { return read_fd() >= 0; }
  // The current connection's descriptors (-1 while there is none). Owned by
  // the endpoint; non-blocking.
  virtual int read_fd() const = 0;
  virtual int write_fd() const = 0;

  // The connection ended (EOF) or failed: closes it. OK if the endpoint will
  // reconnect (see Poll); an error saying why if it cannot.
  virtual absl::Status Lost(absl::string_view why) = 0;

  // Descriptors to wait on besides the connection's own: a listening socket,
  // a connect in progress.
  virtual void AddWaitFds(std::vector<WaitFd>& out) const = 0;
  // When Poll has work without any fd event (a retry), else InfiniteFuture.
  virtual absl::Time next_retry() const { return absl::InfiniteFuture(); }

  // The address, and the peer once connected ("listen:unix:/x, peer pid 42").
  virtual std::string Describe() const = 0;

  // What Poll and Lost ask of the kernel after set-up (reconnecting,
  // accepting, reopening), besides read/write/close (the core's).
  virtual SyscallNeeds syscalls() const = 0;
};

// Opens `address`. Errors a user can cause (no such tty, address in use,
// stdin is a terminal) come back as one-line messages; a peer that is not
// there yet is not an error (connecting endpoints retry).
absl::StatusOr<std::unique_ptr<Endpoint>> OpenEndpoint(const StreamAddress& address,
                                                       const EndpointOptions& options);

// An endpoint on already-open descriptors (fd:, stdio after the swap below,
// tests): one connection, final when lost. Takes ownership of the fds
// (closing them once when read_fd == write_fd).
std::unique_ptr<Endpoint> EndpointFromFds(int read_fd, int write_fd, std::string description);

// Moves the process's stdin/stdout out of the way for stdio: returns private
// copies of fds 0 and 1 (non-blocking) and points fd 0 at /dev/null and fd 1
// at stderr, so nothing else in the process (a library's printf, a stray
// std::cout) can write into the tunnel's stream or read from it.
// FailedPrecondition if stdin is a terminal (a person typing is not a peer).
absl::StatusOr<std::pair<int, int>> TakeStdio();

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_ENDPOINT_H_
