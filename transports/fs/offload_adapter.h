// Offload adaptation: frames between a peer that uses TUN offloads
// (virtio_net_hdr + GSO super-packets) and one that takes plain packets.
//
// Theory of operation: what travels in a record is decided per stream by
// both ends' announcements: vnet frames (record flag bit 0) only when the
// sender carries them and the receiver announced offload=1. Outbound,
// ToPeer() completes checksums and cuts super-packets (vnet/gso.h) for a
// peer without offloads, as the kernel would have without them, into a
// work buffer the adapter owns and reuses; it hands the adapted frames to
// a callback in runs, each valid only during the call. Inbound,
// DeliverFrame() copies a frame into the caller's batch, putting a zeroed
// header in front when our TUN expects one and the peer sent a plain
// packet; every copy is bounded by the batch's slot.
#ifndef FSTUN_TRANSPORTS_FS_OFFLOAD_ADAPTER_H_
#define FSTUN_TRANSPORTS_FS_OFFLOAD_ADAPTER_H_

#include <cstddef>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"

namespace fstun::fs {

class OffloadAdapter {
 public:
  explicit OffloadAdapter(size_t mtu) : mtu_(mtu) {}

  // Turns vnet frames into plain packets of at most `peer_mtu` bytes for a
  // peer without offloads and passes them, in order, to `write` (possibly
  // in several runs). Frames it cannot use are dropped and counted
  // (`bad_offload_frame`, `peer_mtu`).
  void ToPlainPeer(absl::Span<const FrameView> frames, size_t peer_mtu, Counters& counters,
                   absl::FunctionRef<void(absl::Span<const FrameView>)> write);

 private:
  const size_t mtu_;
  // Plain packets cut from super-packets; reused across calls.
  std::unique_ptr<FrameBatch> work_;
};

// Copies `frame` into the next slot of `batch` (not full), with a zeroed
// virtio_net_hdr in front if `add_vnet_header`. False (nothing written) if
// it does not fit the slot.
bool DeliverFrame(FrameView frame, bool add_vnet_header, FrameBatch& batch);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_OFFLOAD_ADAPTER_H_
