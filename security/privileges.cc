#include "security/privileges.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::PermissionDeniedError(
      absl::StrCat("dropping privileges: ", what, ": ", strerror(errno)));
}

int ThreadCount() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

}  // namespace

absl::StatusOr<UserIds> LookUpUser(const std::string& user) {
  std::vector<char> buf(16384);
  passwd pw;
  passwd* found = nullptr;
  uint32_t numeric = 0;
  int rc = absl::SimpleAtoi(user, &numeric)
               ? getpwuid_r(numeric, &pw, buf.data(), buf.size(), &found)
               : getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--user: no such user '", user, "'"));
  }
  return UserIds{pw.pw_uid, pw.pw_gid, pw.pw_name};
}

std::string CurrentCapabilities() {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return "?";
  char* text = cap_to_text(caps, nullptr);
  std::string out = text ? text : "?";
  cap_free(text);
  cap_free(caps);
  return out;
}

absl::Status DropPrivileges(const PrivilegeDropOptions& options) {
  int threads = ThreadCount();
  if (threads > 1) {
    LOG(WARNING) << "dropping privileges with " << threads
                 << " threads running: capabilities change for the calling thread only";
  }
  std::optional<UserIds> target;
  if (!options.user.empty()) {
    absl::StatusOr<UserIds> ids = LookUpUser(options.user);
    if (!ids.ok()) return ids.status();
    target = *ids;
  }

  // 1. Bounding and ambient sets. Dropping from the bounding set needs
  // CAP_SETPCAP; without it (started unprivileged) there is nothing to drop.
  cap_t self = cap_get_proc();
  cap_flag_value_t have_setpcap = CAP_CLEAR;
  if (self != nullptr) cap_get_flag(self, CAP_SETPCAP, CAP_EFFECTIVE, &have_setpcap);
  cap_free(self);
  if (have_setpcap == CAP_SET) {
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
      if (cap == CAP_NET_ADMIN) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
        return Errno(absl::StrCat("PR_CAPBSET_DROP(", cap, ")"));
      }
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Errno("clearing the ambient capabilities");
  }

  // 2. User and groups.
  if (target.has_value()) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Errno("PR_SET_KEEPCAPS");
    if (initgroups(target->name.c_str(), target->gid) != 0) return Errno("initgroups");
    if (setresgid(target->gid, target->gid, target->gid) != 0) return Errno("setresgid");
    if (setresuid(target->uid, target->uid, target->uid) != 0) return Errno("setresuid");
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return Errno("PR_SET_KEEPCAPS");
  } else if (geteuid() == 0) {
    LOG(WARNING) << "no --user given: the data path keeps running as root (with only "
                    "CAP_NET_ADMIN); pass --user=NAME to run it as an unprivileged user";
  }

  // 3. Permitted and effective: CAP_NET_ADMIN only (if we had it at all).
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return Errno("cap_get_proc");
  cap_flag_value_t had_net_admin = CAP_CLEAR;
  cap_get_flag(caps, CAP_NET_ADMIN, CAP_PERMITTED, &had_net_admin);
  cap_clear(caps);
  if (had_net_admin == CAP_SET) {
    cap_value_t keep[] = {CAP_NET_ADMIN};
    cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET);
    cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET);
  }
  int rc = cap_set_proc(caps);
  cap_free(caps);
  if (rc != 0) return Errno("cap_set_proc");

  // 4. No way back up.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("PR_SET_NO_NEW_PRIVS");
  LOG(INFO) << "privileges dropped: uid " << getuid() << ", gid " << getgid() << ", capabilities '"
            << CurrentCapabilities() << "', no_new_privs";
  return absl::OkStatus();
}

}  // namespace fstun
