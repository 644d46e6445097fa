// Userspace segmentation of TUN offload frames: turns one vnet-header frame
// read from an offloading TUN (vnet/header.h) into the plain IP packets the
// kernel would have produced without offloads, so a super-packet can go to
// a peer that takes only MTU-sized packets without vnet headers.
//
//   FrameBatch plain(64, 2048);
//   absl::StatusOr<size_t> n = SegmentVnetFrame(frame, plain);
//   // plain.frames() now ends with *n complete, checksummed IP packets.
//
// What it does, by the header's gso_type:
//   * GSO_NONE: the packet, with its checksum completed when the header says
//     VIRTIO_NET_HDR_F_NEEDS_CSUM (the kernel left only the pseudo-header sum);
//   * TCPV4 / TCPV6: segments of gso_size payload bytes; each gets its own IP
//     header (length, IPv4 id counting up, header checksum), a sequence
//     number advanced by the bytes before it, FIN and PSH only on the last
//     segment, CWR only on the first, and a full TCP checksum;
//   * UDP_L4 (USO): datagrams of gso_size payload bytes with their own
//     length and checksum.
// IPv6 extension headers and the legacy UFO type are refused (the kernel
// does not hand them to a TUN that did not ask for UFO).
//
// It copies every byte once; no allocation.
#ifndef FSTUN_VNET_GSO_H_
#define FSTUN_VNET_GSO_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "core/frame.h"

namespace fstun {

// Appends the plain packets carried by the vnet-header `frame` to `out`.
// Returns how many were appended. InvalidArgument if the frame is malformed;
// ResourceExhausted if `out` has too few free slots or too small ones (then
// nothing is appended).
absl::StatusOr<size_t> SegmentVnetFrame(FrameView frame, FrameBatch& out);

}  // namespace fstun

#endif  // FSTUN_VNET_GSO_H_
