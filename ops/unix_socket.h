// Small helpers for unix stream sockets with paths of any length and I/O
// bounded by a deadline; shared by the control server and client.
#ifndef FSTUN_OPS_UNIX_SOCKET_H_
#define FSTUN_OPS_UNIX_SOCKET_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sys/unique_fd.h"

namespace fstun {

// socket(AF_UNIX, SOCK_STREAM) + connect / bind. Paths longer than
// sun_path go through /proc/self/fd/<dir fd>/<name>. Both return
// non-blocking, close-on-exec sockets. Errors carry errno's text and the
// path; ConnectUnix's NotFound/Unavailable mean "nobody listens there".
absl::StatusOr<UniqueFd> ConnectUnix(const std::string& path);
absl::StatusOr<UniqueFd> BindUnix(const std::string& path);

// Writes all of `data` before `deadline` (the fd is non-blocking). If
// `cancel_fd` >= 0 becomes readable the write is abandoned (Cancelled).
absl::Status WriteAllBy(int fd, absl::string_view data, absl::Time deadline, int cancel_fd = -1);

// Reads until EOF, `limit` bytes, or (if stop_at_newline) a '\n'; before
// `deadline`. ResourceExhausted when `limit` is reached without the end.
absl::StatusOr<std::string> ReadBy(int fd, size_t limit, bool stop_at_newline, absl::Time deadline,
                                   int cancel_fd = -1);

}  // namespace fstun

#endif  // FSTUN_OPS_UNIX_SOCKET_H_
