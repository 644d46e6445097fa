// Dropping privileges after set-up: once the TUN, addresses, routes and NAT
// are in place the daemon needs root's powers only for teardown, and
// teardown needs only CAP_NET_ADMIN (netlink requests that delete routes,
// addresses and nftables rules; the TUN disappears when its fd closes).
//
//   absl::Status s = DropPrivileges({.user = "fstun"});
//
// In order:
//   1. the bounding set loses every capability but CAP_NET_ADMIN, and the
//      ambient set is cleared (so nothing exec'd later can regain them);
//   2. with a user: supplementary groups become that user's (initgroups, so
//      a --fs_group shared through a group keeps working), then the
//      real/effective/saved gid and uid switch to the user's, keeping
//      capabilities across the switch (PR_SET_KEEPCAPS);
//   3. permitted and effective sets become {CAP_NET_ADMIN}, inheritable {};
//   4. PR_SET_NO_NEW_PRIVS: no exec can gain privileges again (set-uid
//      binaries, file capabilities), and seccomp may be installed without
//      CAP_SYS_ADMIN.
//
// Capabilities are per thread on Linux: call this before starting threads
// (it warns if the process has more than one).
#ifndef FSTUN_SECURITY_PRIVILEGES_H_
#define FSTUN_SECURITY_PRIVILEGES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fstun {

struct PrivilegeDropOptions {
  // Switch to this user (name or numeric uid). Empty: stay root, with a
  // warning.
  std::string user;
};

absl::Status DropPrivileges(const PrivilegeDropOptions& options);

struct UserIds {
  uid_t uid;
  gid_t gid;
  std::string name;
};

// A user by name or numeric uid; InvalidArgument "--user: no such user 'x'".
absl::StatusOr<UserIds> LookUpUser(const std::string& user);

// "cap_net_admin=ep" style text of the calling thread's capabilities, for
// logs and tests.
std::string CurrentCapabilities();

}  // namespace fstun

#endif  // FSTUN_SECURITY_PRIVILEGES_H_
