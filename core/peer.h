// Peers: who a transport can carry frames to, as the core's routing table
// (core/routing_table.h) learns of them.
//
// A transport names each remote peer with a PeerId, stable for the peer's
// life (the fs transport: the peer's id in the folder; a point-to-point
// transport: any fixed name). It tells the core what it learns through the
// PeerObserver the core gives it (Transport::SetPeerObserver):
//
//   observer->PeerUp({.id = "192.0.2.2", .prefixes = {...}, .takes_vnet = true});
//   ...
//   observer->PeerDown("192.0.2.2");
//
// The core routes by the prefixes (and the server role), adapts frames to
// each peer's format, and hands the transport frames for an explicit peer;
// a transport never parses IP.
#ifndef FSTUN_CORE_PEER_H_
#define FSTUN_CORE_PEER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "core/ip_address.h"

namespace fstun {

using PeerId = std::string;

// What a transport learned about one peer (from its announcement, a
// handshake, or its configuration).
struct PeerInfo {
  PeerId id;
  // The tunnel addresses or prefixes the peer announced (may be empty).
  std::vector<IpPrefix> prefixes;
  // The peer announced the server role: a client's default route.
  bool is_server = false;
  // The peer takes FrameFormat::kVnet frames (it announced offloads). The
  // frames between this end and the peer are kVnet exactly when both ends
  // take them; otherwise plain IP.
  bool takes_vnet = false;
  // The largest plain IP frame the peer takes; 0: unknown (no check).
  size_t mtu = 0;
};

// Implemented by the core. Calls come from the pump's thread, from inside
// Transport::SetPeerObserver, Send or Receive.
class PeerObserver {
 public:
  virtual ~PeerObserver() = default;
  // A new peer, or new facts about a known one (replaces what was known).
  virtual void PeerUp(const PeerInfo& peer) = 0;
  // The peer is gone; frames routed to it are dropped ("no_route") until
  // it, or another peer for its prefixes, comes up.
  virtual void PeerDown(const PeerId& id) = 0;
};

}  // namespace fstun

#endif  // FSTUN_CORE_PEER_H_
