// The role's command-line flags (--routes, --keep_route, --cleanup,
// --state_dir) and the few calls the daemon makes with them, so cmd/ wires
// the roles in with a handful of lines:
//
//   if (FLAGS_cleanup) return RunCleanupCommand(FLAGS_ifname);    // fstun --cleanup
//   RETURN_IF_ERROR(CleanupBeforeStart(ifname));                  // before the TUN
//   auto setup = ApplyRole(*RoleConfigFromFlags(role, ...));      // after the TUN is up
//   ... pump ...
//   (*setup)->Restore();
#ifndef FSTUN_NETCONFIG_ROLE_FLAGS_H_
#define FSTUN_NETCONFIG_ROLE_FLAGS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/ip_address.h"
#include "gflags/gflags.h"
#include "netconfig/role.h"

DECLARE_string(routes);
DECLARE_string(keep_route);
DECLARE_bool(cleanup);
DECLARE_string(state_dir);

namespace fstun {

// The role configuration from the flags and what the daemon knows. A bad
// --routes / --keep_route is InvalidArgument with a one-line message.
absl::StatusOr<RoleConfig> RoleConfigFromFlags(const std::string& role, const std::string& ifname,
                                               const std::vector<IpPrefix>& addresses, size_t mtu);

// The state file for `ifname` in this network namespace under --state_dir.
std::string StatePathFromFlags(const std::string& ifname);

// At start, before anything is created: restores what a dead fstun with the
// same interface left; AlreadyExists if a live one runs.
absl::Status CleanupBeforeStart(const std::string& ifname);

// `fstun --cleanup`: restores what a dead fstun for --ifname left and says
// what it did on stdout. OK (saying so) if there was nothing to do.
absl::Status RunCleanupCommand(const std::string& ifname);

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_ROLE_FLAGS_H_
