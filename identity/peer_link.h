// PeerLink: frames to one named peer, frames from one named peer: the shape
// of the core's per-peer Transport after issue 13 (/work design note:
// Transport::Send(PeerId, frames), Receive -> {frames, from}). The per-peer
// sealing layer (identity_layer.h) is written against this interface so
// that it does not depend on how routing is wired; an adapter makes any
// transport of that shape a PeerLink.
#ifndef FSTUN_IDENTITY_PEER_LINK_H_
#define FSTUN_IDENTITY_PEER_LINK_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/frame.h"
#include "core/ip_address.h"

namespace fstun {

struct LinkPeer {
  std::string id;                  // the link's name for the peer
  std::vector<IpPrefix> prefixes;  // what it announced (may be empty)
  bool is_server = false;          // it announced the server role
};

class PeerLink {
 public:
  virtual ~PeerLink() = default;
  // Sends frames to `to` in order; returns how many from the front it took
  // (sent, or dropped and counted).
  virtual absl::StatusOr<size_t> Send(const std::string& to,
                                      absl::Span<const FrameView> frames) = 0;
  struct Received {
    size_t frames = 0;
    std::string from;  // the link's claim; never an identity
  };
  // Appends frames that are ready, all from one peer, until `batch` is full.
  virtual absl::StatusOr<Received> Receive(FrameBatch& batch) = 0;
  virtual std::vector<LinkPeer> peers() const = 0;
};

}  // namespace fstun

#endif  // FSTUN_IDENTITY_PEER_LINK_H_
