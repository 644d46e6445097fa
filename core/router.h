// Router: the routing stage of the pump, between the device and the
// transport.
//
// Outbound, for a batch the device read (in the format the batch records):
//   1. each frame's destination comes from its plaintext IP header;
//   2. the RoutingTable picks the peer (none: dropped, "no_route");
//   3. the frame is adapted to what that peer takes (vnet/adapt.h): a
//      super-packet for a peer without offloads is cut into plain packets;
//      plain packets larger than the peer's MTU are dropped ("peer_mtu");
//   4. consecutive frames for the same peer go to Transport::Send as one
//      run. If the transport takes only part of a run, the rest stays
//      pending (pending()) and Flush() offers it again later; the device
//      batch must not be touched until nothing is pending.
// Inbound, for frames the transport received from one peer:
//   1. frames whose source address that peer may not use are dropped
//      ("source_not_allowed"; only peers with configured prefixes are
//      checked, RoutingTable::CheckSource);
//   2. frames are adapted to the device's format (a plain packet from a peer
//      without offloads gets an empty vnet header for an offloading TUN).
// Frames keep their order per peer. Drops are counted in the Counters given.
#ifndef FSTUN_CORE_ROUTER_H_
#define FSTUN_CORE_ROUTER_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"
#include "core/routing_table.h"
#include "core/transport.h"

namespace fstun {

// Drop reasons of the routing stage.
inline constexpr char kDropNoRoute[] = "no_route";
inline constexpr char kDropPeerMtu[] = "peer_mtu";
inline constexpr char kDropBadOffloadFrame[] = "bad_offload_frame";
inline constexpr char kDropSourceNotAllowed[] = "source_not_allowed";

class Router {
 public:
  // `format`: what the device takes (inbound frames are adapted to it).
  // `mtu`: the device's MTU (the largest plain packet a super-packet is cut
  // into).
  Router(RoutingTable& table, Transport& transport, FrameFormat format, size_t mtu,
         Counters& counters);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Outbound: starts routing `batch` (all of it). Only when !pending().
  void Start(const FrameBatch& batch);
  // Sends what the transport takes now; stops at the first partial Send.
  // Errors only when the transport fails.
  absl::Status Flush();
  // Frames of the last batch are still waiting for the transport.
  bool pending() const { return run_sent_ < run_.size() || batch_ != nullptr; }

  // Inbound: the frames of `batch` from index `first` on came from peer
  // `from`. Returns the frames to write to the device, in its format; valid
  // until the next call.
  absl::Span<const FrameView> Deliver(const FrameBatch& batch, size_t first, const PeerId& from);

 private:
  // Fills run_ with the next frames for one peer; false if the batch is done.
  bool NextRun();

  RoutingTable& table_;
  Transport& transport_;
  const FrameFormat format_;
  const size_t mtu_;
  Counters& counters_;

  const FrameBatch* batch_ = nullptr;  // being routed; null: done
  size_t next_ = 0;                    // its first frame not yet routed
  PeerId run_peer_;
  std::vector<FrameView> run_;            // frames for run_peer_, into *batch_ or segments_
  size_t run_sent_ = 0;                   // how many of run_ the transport took
  std::unique_ptr<FrameBatch> segments_;  // plain packets cut from super-packets

  std::vector<FrameView> delivered_;
  std::unique_ptr<FrameBatch> with_header_;  // inbound plain -> vnet
};

}  // namespace fstun

#endif  // FSTUN_CORE_ROUTER_H_
