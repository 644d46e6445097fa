// The fstun command's flags and their validation into a DaemonConfig.
#ifndef FSTUN_CMD_FLAGS_H_
#define FSTUN_CMD_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cmd/daemon.h"
#include "gflags/gflags.h"

DECLARE_string(role);
DECLARE_bool(server);
DECLARE_bool(client);
DECLARE_string(transport);
DECLARE_string(ifname);
DECLARE_string(ip);
DECLARE_int32(mtu);
DECLARE_bool(list_transports);
DECLARE_bool(offload);

namespace fstun {

// Checks argv for flags that do not exist or values that do not parse,
// before gflags sees them (gflags would exit 1; a usage error exits 2).
absl::Status CheckFlagsBeforeParsing(int argc, char** argv);

// Validates the parsed flags into a daemon configuration (InvalidArgument
// with a one-line message on a usage error).
absl::StatusOr<DaemonConfig> DaemonConfigFromFlags();

}  // namespace fstun

#endif  // FSTUN_CMD_FLAGS_H_
