// Asks a running daemon over its control socket (ops/control_protocol.h).
#ifndef FSTUN_OPS_CONTROL_CLIENT_H_
#define FSTUN_OPS_CONTROL_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fstun {

// Sends `request` and returns the reply body. Errors:
//   NotFound / Unavailable: no daemon listens at `path` (none, or it died);
//   PermissionDenied: the socket is not ours to use (run as root);
//   FailedPrecondition: the daemon refused the request (its message);
//   DeadlineExceeded / Internal: the exchange broke.
absl::StatusOr<std::string> QueryDaemon(const std::string& path, absl::string_view request,
                                        absl::Duration timeout = absl::Seconds(5));

}  // namespace fstun

#endif  // FSTUN_OPS_CONTROL_CLIENT_H_
