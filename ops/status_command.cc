#include "ops/status_command.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/control_client.h"
#include "ops/control_protocol.h"

namespace fstun {

int RunStatusCommand(const StatusCommand& command, std::ostream& out, std::ostream& err) {
  if (command.control_dir.empty()) {
    err << "fstun: --control_dir is empty: no control socket to ask\n";
    return 2;
  }
  absl::StatusOr<std::string> path = ControlSocketPath(command.control_dir, command.ifname);
  if (!path.ok()) {
    err << "fstun: " << path.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> reply = QueryDaemon(*path, command.request);
  if (reply.ok()) {
    out << *reply;
    out.flush();
    return out.good() ? 0 : 1;
  }
  const absl::Status& s = reply.status();
  if (absl::IsNotFound(s) || absl::IsUnavailable(s)) {
    err << "fstun: no fstun daemon runs for interface " << command.ifname
        << " in this network namespace (no one answers on " << *path << ")\n";
  } else if (absl::IsPermissionDenied(s)) {
    err << "fstun: permission denied on " << *path << " (the control socket is root's: try sudo)\n";
  } else {
    err << "fstun: " << s.message() << "\n";
  }
  return 1;
}

}  // namespace fstun
