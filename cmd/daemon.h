// The fstun daemon: brings up the TUN, creates the transport and pumps
// frames until SIGINT/SIGTERM. Everything it changed is undone on the way
// out, in reverse order of set-up.
#ifndef FSTUN_CMD_DAEMON_H_
#define FSTUN_CMD_DAEMON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/ip_address.h"

namespace fstun {

struct DaemonConfig {
  std::string role;       // "server", "client" or "none"
  std::string transport;  // a registered transport name
  std::string ifname;
  size_t mtu = 1500;
  std::vector<IpPrefix> addresses;
  bool offload = true;  // TUN offloads if the transport carries super-frames
};

// Runs until stopped by a signal (returns OK) or a failure.
absl::Status RunDaemon(const DaemonConfig& config);

}  // namespace fstun

#endif  // FSTUN_CMD_DAEMON_H_
