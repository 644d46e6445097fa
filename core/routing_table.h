// RoutingTable: which peer a frame goes to, picked from its plaintext IP
// destination, above any sealing and above the transport (as wireguard-go's
// allowedips sits above conn.Bind). The transport fills it through the
// PeerObserver interface (core/peer.h) with the peers it discovers and the
// prefixes they announce; peers may also be configured (ConfigurePeer, for
// `--peer=PUBKEY,PREFIX[,PREFIX]`), and then the table also says which
// source addresses a peer may send from.
//
//   RoutingTable table({.client = true});
//   transport.SetPeerObserver(&table);
//   std::optional<Route> r = table.Lookup(PacketDestination(packet));
//   if (r) transport.Send(r->peer, frames);
//
// Lookup, in order (the rules the fs transport used to apply itself):
//   1. a peer's prefix holding exactly the destination address;
//   2. the longest prefix containing the destination, if only one peer has
//      a prefix of that length that does (two clients claiming one subnet
//      must not get each other's traffic);
//   3. with Options::client, a peer that announced the server role;
//   4. the only peer, if there is exactly one and no peer is configured;
//   otherwise none (the caller counts "no_route").
// A peer with configured prefixes is routed by those instead of what it
// announced, and CheckSource refuses frames from it whose source address
// is outside them.
//
// Threads: written from the pump's thread (the transport's observer calls,
// ConfigurePeer before the pump starts); Lookup on the pump's thread;
// Snapshot from any thread.
#ifndef FSTUN_CORE_ROUTING_TABLE_H_
#define FSTUN_CORE_ROUTING_TABLE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/ip_address.h"
#include "core/peer.h"

namespace fstun {

// Where Lookup sends a frame, and what that peer takes.
struct Route {
  PeerId peer;
  bool takes_vnet = false;
  size_t mtu = 0;  // 0: unknown
};

struct RoutingTableOptions {
  // This end is a client: what matches no prefix goes to a server peer.
  bool client = false;
};

class RoutingTable : public PeerObserver {
 public:
  using Options = RoutingTableOptions;
  struct Entry {
    PeerInfo info;                     // as the transport reported it
    std::vector<IpPrefix> configured;  // ConfigurePeer; empty: none
    bool up = false;                   // reported and not gone
  };

  RoutingTable() = default;
  explicit RoutingTable(Options options) : options_(options) {}

  // PeerObserver.
  void PeerUp(const PeerInfo& peer) override;
  void PeerDown(const PeerId& id) override;

  // Routes `id` by `allowed` (instead of what it announces) and accepts
  // frames from it only with a source inside them. The peer need not be up
  // yet. (The hook for configured peers: --peer=PUBKEY,PREFIX[,PREFIX].)
  void ConfigurePeer(const PeerId& id, std::vector<IpPrefix> allowed);

  // The peer for `destination` (nullopt: unknown or not IP), by the rules
  // at the top of this file; nullopt if none.
  std::optional<Route> Lookup(const std::optional<IpAddress>& destination) const;
  // What is known of peer `id` (nullopt: never reported, or down).
  std::optional<Route> Find(const PeerId& id) const;
  // False if `from` has configured prefixes and `source` is not inside one
  // of them (or is not an address at all).
  bool CheckSource(const PeerId& from, const std::optional<IpAddress>& source) const;

  std::vector<Entry> Snapshot() const;

 private:
  static Route RouteOf(const Entry& e);

  const Options options_{};
  mutable absl::Mutex mu_;
  // Ordered by first report, so "the only peer" and ties are stable.
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  Entry* FindEntry(const PeerId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Entry* FindEntry(const PeerId& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace fstun

#endif  // FSTUN_CORE_ROUTING_TABLE_H_
