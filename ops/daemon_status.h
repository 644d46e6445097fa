// DaemonStatus: one consistent picture of a running daemon, the single input
// of every operator-facing output (`fstun status`, its JSON, the Prometheus
// metrics, systemd's STATUS= line).
//
// CollectStatus() reads only the thread-safe accessors (Device/Transport/
// Pump counters() and Transport::peers()), so the control-socket thread may
// call it while the pump runs.
#ifndef FSTUN_OPS_DAEMON_STATUS_H_
#define FSTUN_OPS_DAEMON_STATUS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/counters.h"
#include "core/device.h"
#include "core/peer_status.h"
#include "core/pump.h"
#include "core/transport.h"

namespace fstun {

// What does not change while the daemon runs.
struct DaemonInfo {
  std::string version;
  std::string ifname;
  std::string role;                    // "server", "client", "none"
  std::string transport;               // registered name, e.g. "fs"
  std::vector<std::string> addresses;  // CIDR form
  size_t mtu = 0;
  absl::Time started = absl::InfinitePast();
  int pid = 0;
};

struct DaemonStatus {
  DaemonInfo info;
  absl::Time now = absl::InfinitePast();  // when the counters were read
  CounterSnapshot device;                 // the TUN: rx = read from the kernel, tx = written to it
  CounterSnapshot transport;              // tx = sent to peers, rx = received from them
  CounterSnapshot pump;                   // frames moved; drops the transport refused
  std::vector<PeerStatus> peers;

  absl::Duration uptime() const { return now - info.started; }
  // Drops of every component together.
  uint64_t total_drops() const;
};

DaemonStatus CollectStatus(const DaemonInfo& info, const Device& device, const Transport& transport,
                           const Pump& pump);

}  // namespace fstun

#endif  // FSTUN_OPS_DAEMON_STATUS_H_
