// Offload frames for tests: an IP packet behind a virtio_net_hdr asking for
// checksum completion and segmentation, as a TUN with offloads on reads a
// super-packet (the format: vnet/header.h). What the router, ConvertFrame
// and the TUN tests feed in to see it cut, passed on or written.
//
//   std::vector<uint8_t> payload(4000, 0x5a);
//   std::vector<uint8_t> super = GsoSuperPacket(
//       PacketBuilder::Udp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 2, payload), 1000);
//   // ConvertFrame(super, kVnet, kIp, out) -> 4 packets of 1000 payload bytes
#ifndef FSTUN_TESTING_VNET_FRAMES_H_
#define FSTUN_TESTING_VNET_FRAMES_H_

#include <cstdint>
#include <vector>

#include "core/frame.h"

namespace fstun::testing {

// `packet` (IPv4 or IPv6 without extension headers, carrying TCP or UDP, its
// L4 checksum as the builder left it) as a vnet frame: NEEDS_CSUM at the L4
// checksum, the GSO type of its protocol, segments of `gso_size` payload
// bytes. Aborts on any other packet (tests only).
std::vector<uint8_t> GsoSuperPacket(FrameView packet, uint16_t gso_size);

}  // namespace fstun::testing

#endif  // FSTUN_TESTING_VNET_FRAMES_H_
