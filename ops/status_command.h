// `fstun status [--ifname=tun0] [--json]` and `fstun metrics`: ask the
// daemon of an interface over its control socket and print the answer.
#ifndef FSTUN_OPS_STATUS_COMMAND_H_
#define FSTUN_OPS_STATUS_COMMAND_H_

#include <ostream>
#include <string>

namespace fstun {

struct StatusCommand {
  std::string ifname;
  std::string control_dir;
  std::string request;  // kRequestStatus, kRequestStatusJson or kRequestMetrics
};

// Prints the reply to `out`, or a one-line message to `err`. Returns the
// exit code: 0, 1 when no daemon runs for the interface or the exchange
// failed, 2 for a usage error.
int RunStatusCommand(const StatusCommand& command, std::ostream& out, std::ostream& err);

}  // namespace fstun

#endif  // FSTUN_OPS_STATUS_COMMAND_H_
