// What a transport knows about one remote peer, for status output and logs.
#ifndef FSTUN_CORE_PEER_STATUS_H_
#define FSTUN_CORE_PEER_STATUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/counters.h"

namespace fstun {

struct PeerStatus {
  std::string id;                      // stable peer id (e.g. host name or key)
  std::vector<std::string> addresses;  // tunnel addresses, CIDR form
  std::string session;                 // current session id, hex
  absl::Time last_seen = absl::InfinitePast();
  std::string wakeup_path;  // e.g. "inotify", "polling"
  absl::Duration poll_interval = absl::ZeroDuration();
  uint64_t backlog_bytes = 0;  // bytes waiting for this peer
  CounterSnapshot counters;    // tx = to this peer, rx = from it
};

}  // namespace fstun

#endif  // FSTUN_CORE_PEER_STATUS_H_
