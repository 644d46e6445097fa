// TUN offloads: frames with a virtio_net_hdr, and GSO super-packets.
//
// With IFF_VNET_HDR every read from and write to the TUN starts with a
// 10-byte struct virtio_net_hdr (linux/virtio_net.h, native byte order).
// After TUNSETOFFLOAD the kernel may hand us, in one read, a TCP or UDP
// "super-packet" of up to 64 KiB that it would otherwise have cut into MTU
// packets, with gso_type/gso_size saying how to cut it, and packets whose
// checksum is only partial (VIRTIO_NET_HDR_F_NEEDS_CSUM). Writing such a
// frame unchanged into another TUN with the same offloads is valid, which is
// how two fstun ends that both use vnet headers move 64 KiB per frame (QEMU's
// tap backend does the same). A peer without vnet headers needs the checksum
// completed and the super-packet segmented first: tun/gso.h does that.
//
// A plain IP packet is written as a zeroed header (VIRTIO_NET_HDR_GSO_NONE,
// no flags) followed by the packet.
#ifndef FSTUN_TUN_OFFLOAD_H_
#define FSTUN_TUN_OFFLOAD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/frame.h"

namespace fstun {

// kVirtioNetHdrSize (10) is in core/frame.h: the core needs it too.

// UDP segmentation offload flags; Linux 6.2+ (older headers lack them).
inline constexpr unsigned kTunOffloadUso4 = 0x20;
inline constexpr unsigned kTunOffloadUso6 = 0x40;
// gso_type of a UDP super-packet (VIRTIO_NET_HDR_GSO_UDP_L4).
inline constexpr uint8_t kVirtioGsoUdpL4 = 5;

// Turns on the largest set of offloads the kernel accepts on the TUN `fd`:
// checksum + TSO4/6 + USO4/6, else checksum + TSO4/6, else checksum alone.
// (Kernels refuse TSO without checksum offload, and USO on kernels < 6.2.)
// Returns the TUN_F_* flags now on.
absl::StatusOr<unsigned> EnableTunOffloads(int fd, absl::string_view ifname);

// The header of a vnet-header frame, or nullopt if the frame is too short.
struct VirtioNetHeader {
  uint8_t flags = 0;     // VIRTIO_NET_HDR_F_NEEDS_CSUM, ..._DATA_VALID
  uint8_t gso_type = 0;  // VIRTIO_NET_HDR_GSO_NONE, _TCPV4, _TCPV6, kVirtioGsoUdpL4
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;  // payload bytes per segment
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
std::optional<VirtioNetHeader> ParseVirtioNetHeader(FrameView frame);

// The IP packet after the header (empty if the frame is too short).
inline FrameView VnetPayload(FrameView frame) {
  return frame.size() < kVirtioNetHdrSize ? FrameView() : frame.subspan(kVirtioNetHdrSize);
}

// A zeroed header followed by `packet`: how a plain packet is written to a
// vnet-header TUN.
std::vector<uint8_t> WithEmptyVnetHeader(FrameView packet);

}  // namespace fstun

#endif  // FSTUN_TUN_OFFLOAD_H_
