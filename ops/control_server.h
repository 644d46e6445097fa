// ControlServer: the daemon's read-only control socket (protocol in
// ops/control_protocol.h), served by one small thread.
//
//   ControlServer::Options o;
//   o.path = *ControlSocketPath("/run/fstun", "tun0");
//   o.handler = [&](absl::string_view request) -> absl::StatusOr<std::string> {...};
//   auto server = ControlServer::Listen(o);   // before dropping privileges
//   ...drop privileges, install seccomp...
//   (*server)->Start();                       // the thread; needs accept4, poll
//   ...
//   server->reset();                          // stops and joins the thread
//
// The thread poll()s the listening socket and a stop eventfd, serves one
// connection at a time (requests are tiny; a client that does not send its
// line within kControlIoTimeout is dropped), and calls `on_tick` every
// `tick_interval` (the metrics textfile and systemd's STATUS= line). A bad
// request gets "error: ..." and the connection is closed; nothing a client
// sends can stop the thread or the daemon.
//
// Listen() creates the directory (0700) if needed and binds the socket
// (0600). A socket left by a daemon that died is replaced; one a live daemon
// answers on is AlreadyExists.
#ifndef FSTUN_OPS_CONTROL_SERVER_H_
#define FSTUN_OPS_CONTROL_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/event_fd.h"
#include "ops/unix_socket.h"

namespace fstun {

class ControlServer {
 public:
  // Maps a request line (without '\n') to a reply body; an error status is
  // sent as "error: <message>".
  using Handler = std::function<absl::StatusOr<std::string>(absl::string_view request)>;

  struct Options {
    std::string path;  // empty: no socket, the thread only ticks
    Handler handler;
    std::function<void()> on_tick;
    absl::Duration tick_interval = absl::InfiniteDuration();
    absl::Duration io_timeout = absl::Seconds(2);
  };

  static absl::StatusOr<std::unique_ptr<ControlServer>> Listen(Options options);
  ~ControlServer();  // Stop(), close, and remove the socket (best effort)
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void Start();
  // Stops and joins the thread; idempotent.
  void Stop();

  const std::string& path() const { return options_.path; }
  // Requests answered "ok" / refused (bad, oversized, timed out, wrong user).
  uint64_t served() const { return served_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  ControlServer(Options options, UniqueFd listen_fd);
  void Loop();
  void ServeOne(int conn);

  Options options_;
  UniqueFd listen_fd_;
  EventFd stop_;
  std::thread thread_;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace fstun

#endif  // FSTUN_OPS_CONTROL_SERVER_H_
