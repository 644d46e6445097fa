#include "ops/daemon_status.h"

#include "absl/time/clock.h"

namespace fstun {

uint64_t DaemonStatus::total_drops() const {
  return device.total_drops() + transport.total_drops() + pump.total_drops();
}

DaemonStatus CollectStatus(const DaemonInfo& info, const Device& device, const Transport& transport,
                           const Pump& pump) {
  DaemonStatus s;
  s.info = info;
  s.device = device.counters();
  s.transport = transport.counters();
  s.pump = pump.counters();
  s.peers = transport.peers();
  s.now = absl::Now();
  return s;
}

}  // namespace fstun
