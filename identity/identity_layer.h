// IdentityLayer: the per-peer sealing layer. It is a PeerLink whose peers
// are the configured public keys (--peer=PUBKEY,PREFIX[,PREFIX]), on top of
// a PeerLink whose peers are whatever the transport calls them (an fs peer
// id, the far end of a stream):
//
//   core routing table  --Send(pubkey, frames)-->  IdentityLayer
//                       <--{frames, from=pubkey}--      |  seals for that
//                                                       |  key / opens
//   transport (fs, memory, ...)  <--Send(link id, messages)--+
//
// Frames to peer K are sealed with K's session (PeerCrypto); a handshake
// starts when there is none. Every message from below is opened, and the
// frames are attributed to the peer whose session key authenticates them,
// never to the link's `from` nor to anything the message claims; inner
// sources outside that peer's prefixes are dropped ("source_not_allowed").
//
// Which link peer carries messages for key K: the link peer that last sent
// a message authenticated as K; before that, the only link peer, else the
// link peers whose announced address lies in K's prefixes (of several, the
// ones that announced the server role: a client's K is 0.0.0.0/0), else
// those whose announced prefixes overlap K's; with none of these a
// handshake initiation goes to every link peer (its mac1 names K, so the
// others drop it before any public-key work, as "not_for_us").
//
// Threads: one (the pump's), except counters()/Status().
#ifndef FSTUN_IDENTITY_IDENTITY_LAYER_H_
#define FSTUN_IDENTITY_IDENTITY_LAYER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "identity/peer_crypto.h"
#include "identity/peer_link.h"

namespace fstun {

class IdentityLayer : public PeerLink {
 public:
  // `clock` (tests) defaults to absl::Now.
  IdentityLayer(std::unique_ptr<PeerCrypto> crypto, PeerLink* inner,
                std::function<absl::Time()> clock = nullptr);

  // `to` is a public key in base64 (PublicKey::ToBase64). Frames are plain
  // IP packets; with `vnet`, each starts with a virtio-net header (the
  // receiver learns which from the sealed message).
  absl::StatusOr<size_t> Send(const std::string& to, absl::Span<const FrameView> frames) override {
    return Send(to, frames, /*vnet=*/false);
  }
  absl::StatusOr<size_t> Send(const std::string& to, absl::Span<const FrameView> frames, bool vnet);
  // The format Receive delivers key `key`'s frames in (default: plain IP).
  // A plain frame is then given an empty virtio-net header; a kVnet frame
  // for a plain receiver passes only without offload work pending (no GSO,
  // no partial checksum), else it is dropped as "offload_mismatch".
  void SetDeliverVnet(const std::string& key, bool vnet);
  // The link peers messages for `key` go to now (see the top of this file).
  std::vector<std::string> LinkPeersForKey(const std::string& key) const;
  // Frames of one authenticated peer; `from` is its public key (base64).
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  // The configured peers: id = public key, prefixes = allowed prefixes.
  std::vector<LinkPeer> peers() const override;

  // Timers and queued handshake messages; Receive calls it too.
  void Tick();
  // When Tick (or Receive) next has timer work: PeerCrypto::NextTimer.
  absl::Time NextTimer() const { return crypto_->NextTimer(); }
  // Handshake messages wait for a link peer to carry them (each Send and
  // Receive retries them; they expire after kUnlinkedTtl).
  bool has_unlinked() const { return !unlinked_.empty(); }
  // Drops counted by this layer (PeerCrypto's reasons, plus "no_peer" for
  // a Send to an unknown key).
  CounterSnapshot counters() const;
  std::vector<PeerCrypto::PeerInfo> Status() const { return crypto_->Status(); }
  // The link peer that last sent a message authenticated as public key
  // `key` (base64); "" if none did yet. Pump thread only.
  std::string LinkOf(const std::string& key) const;
  // Counts changes of the link peer a key is bound to (LinkPeersForKey).
  uint64_t binding_changes() const { return binding_changes_; }
  PeerCrypto& crypto() { return *crypto_; }

 private:
  void Flush();
  std::vector<std::string> LinkPeersFor(size_t peer) const;

  const std::unique_ptr<PeerCrypto> crypto_;
  PeerLink* const inner_;
  const std::function<absl::Time()> clock_;
  // Converts an opened frame of `size` bytes in `slot` to the format the
  // caller wants for `peer`; the new size, or 0 if it cannot (counted).
  size_t Adapt(size_t peer, bool vnet, absl::Span<uint8_t> slot, size_t size);

  absl::flat_hash_map<std::string, size_t> by_id_;
  std::vector<bool> deliver_vnet_;  // per peer: SetDeliverVnet
  // Handshake messages (and keepalives) sent while no link peer could carry
  // them: sent once one can, within kUnlinkedTtl; else "no_link".
  struct Unlinked {
    PeerCrypto::Outgoing message;
    absl::Time since;
  };
  static constexpr size_t kMaxUnlinked = 64;
  static constexpr absl::Duration kUnlinkedTtl = absl::Seconds(2);
  std::vector<Unlinked> unlinked_;
  uint64_t binding_changes_ = 0;
  std::vector<std::string> bound_;        // per peer: link id of its last message
  std::unique_ptr<FrameBatch> outbound_;  // sealed frames of one Send
  // An opened frame of another peer than the one Receive returned.
  std::vector<uint8_t> opened_;
  size_t opened_peer_ = 0;
  bool has_opened_ = false;
  // Messages from below not yet opened (Receive returns one peer at a
  // time), and the link peer they came from.
  std::unique_ptr<FrameBatch> inbound_;
  size_t inbound_next_ = 0;
  std::string inbound_from_;
  Counters counters_;
};

}  // namespace fstun

#endif  // FSTUN_IDENTITY_IDENTITY_LAYER_H_
