// HardenAfterSetup: the daemon's one call, once the TUN, addresses, routes
// and NAT are in place and before the pump starts: DropPrivileges (--user)
// and then InstallSeccompFilter (unless --seccomp=false) with what the
// core, the device, the transport and the daemon declared they call. See
// security/privileges.h, security/seccomp_filter.h and docs/security.md.
//
//   ... set up the host ...
//   absl::Status s = HardenAfterSetup(needs);  // core/syscalls.h
//   if (!s.ok()) { ...undo set-up, exit... }
//   pump.Run();
//   ... teardown: only netlink requests (CAP_NET_ADMIN) and closing fds ...
#ifndef FSTUN_SECURITY_HARDEN_H_
#define FSTUN_SECURITY_HARDEN_H_

#include "absl/status/status.h"
#include "core/syscalls.h"
#include "gflags/gflags.h"

DECLARE_string(user);
DECLARE_bool(seccomp);

namespace fstun {

// Reads --user and --seccomp. Errors are fatal for the daemon: it should
// undo its set-up and exit rather than run with more privileges than asked.
absl::Status HardenAfterSetup(const SyscallNeeds& needs);

}  // namespace fstun

#endif  // FSTUN_SECURITY_HARDEN_H_
