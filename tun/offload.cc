#include "tun/offload.h"

#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fstun {

absl::StatusOr<unsigned> EnableTunOffloads(int fd, absl::string_view ifname) {
  const unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  const unsigned candidates[] = {tso | kTunOffloadUso4 | kTunOffloadUso6, tso, TUN_F_CSUM};
  int last_error = 0;
  for (unsigned flags : candidates) {
    if (ioctl(fd, TUNSETOFFLOAD, flags) == 0) return flags;
    last_error = errno;
    if (last_error != EINVAL) break;  // not a question of which flags
  }
  return absl::FailedPreconditionError(absl::StrCat("cannot turn on offloads on ", ifname, ": ",
                                                    strerror(last_error),
                                                    " (run without vnet headers instead)"));
}

}  // namespace fstun
