#include "ops/control_client.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ops/control_protocol.h"
#include "ops/unix_socket.h"

namespace fstun {

absl::StatusOr<std::string> QueryDaemon(const std::string& path, absl::string_view request,
                                        absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<UniqueFd> fd = ConnectUnix(path);
  if (!fd.ok()) return fd.status();
  if (absl::Status s = WriteAllBy(fd->get(), absl::StrCat(request, "\n"), deadline); !s.ok()) {
    return absl::InternalError(absl::StrCat("sending the request: ", s.message()));
  }
  // Replies are a few KiB per peer; 16 MiB is far beyond any real one.
  absl::StatusOr<std::string> reply =
      ReadBy(fd->get(), 16 << 20, /*stop_at_newline=*/false, deadline);
  if (!reply.ok()) {
    if (absl::IsDeadlineExceeded(reply.status())) {
      return absl::DeadlineExceededError(absl::StrCat("the daemon at ", path, " did not answer"));
    }
    return absl::InternalError(absl::StrCat("reading the reply: ", reply.status().message()));
  }
  absl::string_view body = *reply;
  if (absl::ConsumePrefix(&body, kReplyOk)) return std::string(body);
  if (absl::ConsumePrefix(&body, kReplyErrorPrefix)) {
    absl::ConsumeSuffix(&body, "\n");
    return absl::FailedPreconditionError(std::string(body));
  }
  return absl::InternalError(absl::StrCat("unexpected reply from ", path));
}

}  // namespace fstun
