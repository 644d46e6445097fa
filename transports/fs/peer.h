// Peer: everything the fs transport knows about one other peer in the
// folder: its announcement and liveness (kept by the PeerTable), the stream
// we write into its inbox and the stream it writes into ours.
#ifndef FSTUN_TRANSPORTS_FS_PEER_H_
#define FSTUN_TRANSPORTS_FS_PEER_H_

#include <string>

#include "absl/time/time.h"
#include "transports/fs/announcement.h"
#include "transports/fs/inbound_stream.h"
#include "transports/fs/outbound_stream.h"

namespace fstun::fs {

struct Peer {
  Peer(std::string peer_id, const OutboundConfig& out_config, const InboundConfig& in_config)
      : id(peer_id), out(out_config, peer_id), in(in_config, peer_id) {}

  const std::string id;
  Announcement ann;
  // Keyed: the MAC for this peer's identity (ann.identity), fixed while
  // the peer is known.
  const LinkMac* mac = nullptr;
  absl::Time beat_changed_at = absl::InfinitePast();  // our clock
  // Last time its records arrived or it consumed ours (our clock): proof of
  // life that a cached, stale announcement cannot hide.
  absl::Time traffic_at = absl::InfinitePast();
  bool live = true;
  absl::Time rang_at = absl::InfinitePast();  // we last wrote its doorbell
  // The session this peer had before its current one, and where our
  // streams with it stood: resumed if the announcement returns to it.
  struct Previous {
    uint64_t session = 0;
    uint64_t out_seq = 1;  // the first record it had not read
    uint64_t in_seq = 1;   // the next record we expected from it
  } previous;
  OutboundStream out;  // records me -> peer, in DIR/inbox/<peer>
  InboundStream in;    // records peer -> me, in my inbox
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_PEER_H_
