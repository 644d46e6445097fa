#include "ops/control_protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fstun {

absl::StatusOr<std::string> ControlSocketPath(absl::string_view dir, absl::string_view ifname) {
  struct stat st;
  if (stat("/proc/self/ns/net", &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot identify the network namespace (/proc/self/ns/net): ", strerror(errno)));
  }
  return absl::StrCat(dir, "/", ifname, ".net", st.st_ino, ".sock");
}

}  // namespace fstun
