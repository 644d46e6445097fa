// Tells systemd about the daemon's state (Type=notify units): READY=1 once
// the tunnel is up, STATUS= lines, STOPPING=1. Does nothing when the daemon
// was not started by systemd ($NOTIFY_SOCKET unset).
#ifndef FSTUN_OPS_SYSTEMD_NOTIFY_H_
#define FSTUN_OPS_SYSTEMD_NOTIFY_H_

#include "absl/strings/string_view.h"

namespace fstun {

// `state` is sd_notify's newline-separated assignments, e.g. "READY=1\nSTATUS=up".
// Returns true if systemd was told.
bool NotifySystemd(absl::string_view state);

}  // namespace fstun

#endif  // FSTUN_OPS_SYSTEMD_NOTIFY_H_
