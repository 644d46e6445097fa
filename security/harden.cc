#include "security/harden.h"

#include "glog/logging.h"
#include "security/privileges.h"
#include "security/seccomp_filter.h"

DEFINE_string(user, "",
              "after set-up, run as this user (name or uid), keeping only CAP_NET_ADMIN for "
              "teardown; empty: stay root (with a warning)");
DEFINE_bool(seccomp, true,
            "after set-up, restrict the daemon to the syscalls its data path needs (others "
            "fail with EPERM; see docs/security.md)");

namespace fstun {

absl::Status HardenAfterSetup(const SyscallNeeds& needs) {
  absl::Status s = DropPrivileges({FLAGS_user});
  if (!s.ok()) return s;
  if (!FLAGS_seccomp) {
    LOG(WARNING) << "--seccomp=false: no syscall filter";
    return absl::OkStatus();
  }
  return InstallSeccompFilter(needs);
}

}  // namespace fstun
