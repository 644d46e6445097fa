#include "ops/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace fstun {

bool NotifySystemd(absl::string_view state) {
  std::string s(state);
  // unset_environment=0: the STATUS= updates later need $NOTIFY_SOCKET too.
  return sd_notify(0, s.c_str()) > 0;
}

}  // namespace fstun
