// The control socket's wire protocol and where the socket lives.
//
// A unix stream socket, one request per connection: the client sends one
// line ("status", "status json" or "metrics", at most kMaxRequestBytes with
// its '\n'), the daemon answers "ok\n" followed by the body, or
// "error: <message>\n", and closes. Nothing else is understood; in
// particular nothing changes the daemon.
//
// The socket is <dir>/<ifname>.net<inode>.sock, where <inode> identifies the
// network namespace (as netconfig's state file does): two daemons in two
// namespaces may both run tun0, and `fstun status` finds the daemon of the
// namespace it runs in. <dir> is /run/fstun (mode 0700); the socket is 0600.
#ifndef FSTUN_OPS_CONTROL_PROTOCOL_H_
#define FSTUN_OPS_CONTROL_PROTOCOL_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fstun {

inline constexpr char kDefaultControlDir[] = "/run/fstun";
inline constexpr size_t kMaxRequestBytes = 256;
// How long the daemon waits for a whole request, and for the reader of a reply.
inline constexpr absl::Duration kControlIoTimeout = absl::Seconds(2);

inline constexpr char kRequestStatus[] = "status";
inline constexpr char kRequestStatusJson[] = "status json";
inline constexpr char kRequestMetrics[] = "metrics";

inline constexpr char kReplyOk[] = "ok\n";
inline constexpr char kReplyErrorPrefix[] = "error: ";

// <dir>/<ifname>.net<inode>.sock for the calling thread's network namespace.
absl::StatusOr<std::string> ControlSocketPath(absl::string_view dir, absl::string_view ifname);

}  // namespace fstun

#endif  // FSTUN_OPS_CONTROL_PROTOCOL_H_
