// What a transport knows about one remote peer, for status output and logs.
#ifndef FSTUN_CORE_PEER_STATUS_H_
#define FSTUN_CORE_PEER_STATUS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/counters.h"

namespace fstun {

struct PeerStatus {
  std::string id;                      // stable peer id (e.g. host name or key)
  std::vector<std::string> addresses;  // tunnel addresses, CIDR form
  std::string session;                 // current session id, hex
  absl::Time last_seen = absl::InfinitePast();
  uint64_t backlog_bytes = 0;  // bytes waiting for this peer
  CounterSnapshot counters;    // tx = to this peer, rx = from it
  // Transport-specific facts, printed as they are, in this order (the fs
  // transport: {"wakeup", "inotify"}, {"poll_interval", "200ms"}).
  std::vector<std::pair<std::string, std::string>> details;

  // The value of detail `key`, or "" if there is none.
  std::string Detail(const std::string& key) const {
    for (const auto& [k, v] : details) {
      if (k == key) return v;
    }
    return "";
  }
};

}  // namespace fstun

#endif  // FSTUN_CORE_PEER_STATUS_H_
