// The virtio-net frame format: a struct virtio_net_hdr in front of an IP
// packet, as a TUN with IFF_VNET_HDR reads and writes it (and as QEMU's tap
// backend does). This package (vnet/) is the only place that knows the
// format; the TUN device (tun/) only turns it on, and transports never see
// inside frames.
//
// With offloads the kernel may hand over, in one read, a TCP or UDP
// "super-packet" of up to 64 KiB with gso_type/gso_size saying how to cut
// it, and packets whose checksum is only partial (VIRTIO_NET_HDR_F_NEEDS_CSUM).
// Writing such a frame unchanged into another offloading TUN is valid, which
// is how two fstun ends that both use vnet headers move 64 KiB per frame. A
// peer without vnet headers needs the checksum completed and the
// super-packet segmented first (vnet/gso.h, vnet/adapt.h).
//
// A plain IP packet is written as a zeroed header (VIRTIO_NET_HDR_GSO_NONE,
// no flags) followed by the packet.
//
//   FrameView packet = IpPacket(frame, batch.format());   // either format
//   std::optional<VirtioNetHeader> h = ParseVirtioNetHeader(frame);
#ifndef FSTUN_VNET_HEADER_H_
#define FSTUN_VNET_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/frame.h"

namespace fstun {

// sizeof(struct virtio_net_hdr): every kVnet frame starts with one.
inline constexpr size_t kVirtioNetHdrSize = 10;

// flags
inline constexpr uint8_t kVirtioNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
// gso_type values
inline constexpr uint8_t kVirtioGsoNone = 0;
inline constexpr uint8_t kVirtioGsoTcpV4 = 1;
inline constexpr uint8_t kVirtioGsoTcpV6 = 4;
inline constexpr uint8_t kVirtioGsoUdpL4 = 5;  // USO (Linux 6.2+)
inline constexpr uint8_t kVirtioGsoEcn = 0x80;

// The header's fields (native byte order, as the kernel writes them).
struct VirtioNetHeader {
  uint8_t flags = 0;     // kVirtioNeedsChecksum, ..._DATA_VALID
  uint8_t gso_type = 0;  // kVirtioGso*
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;  // payload bytes per segment
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  // Neither a super-packet nor a partial checksum: the packet behind the
  // header is a complete, ordinary IP packet.
  bool plain() const {
    return (gso_type & ~kVirtioGsoEcn) == kVirtioGsoNone && (flags & kVirtioNeedsChecksum) == 0;
  }
};

// The header of a kVnet frame, or nullopt if the frame is too short.
std::optional<VirtioNetHeader> ParseVirtioNetHeader(FrameView frame);
// Writes `h` into the first kVirtioNetHdrSize bytes of `out` (which must be
// at least that long).
void WriteVirtioNetHeader(const VirtioNetHeader& h, absl::Span<uint8_t> out);

// The IP packet after the header (empty if the frame is too short).
inline FrameView VnetPayload(FrameView frame) {
  return frame.size() < kVirtioNetHdrSize ? FrameView() : frame.subspan(kVirtioNetHdrSize);
}

// The IP packet inside a frame of the given format.
inline FrameView IpPacket(FrameView frame, FrameFormat format) {
  return format == FrameFormat::kVnet ? VnetPayload(frame) : frame;
}

// A zeroed header followed by `packet`: how a plain packet is written to a
// vnet-header TUN.
std::vector<uint8_t> WithEmptyVnetHeader(FrameView packet);

}  // namespace fstun

#endif  // FSTUN_VNET_HEADER_H_
