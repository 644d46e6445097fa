// Reads the IP version, header length and protocol of the packet and fills
// the header the kernel would: csum_start at the L4 header, csum_offset at
// its checksum field, hdr_len up to the payload.
#include "testing/vnet_frames.h"

#include "absl/types/span.h"
#include "glog/logging.h"
#include "vnet/header.h"

namespace fstun::testing {

std::vector<uint8_t> GsoSuperPacket(FrameView packet, uint16_t gso_size) {
  CHECK_GE(packet.size(), 40u) << "not an IP packet with a TCP/UDP header";
  const int version = packet[0] >> 4;
  CHECK(version == 4 || version == 6) << "IP version " << version;
  const bool v4 = version == 4;
  const uint16_t l3 = v4 ? (packet[0] & 0x0f) * 4 : 40;
  const uint8_t protocol = v4 ? packet[9] : packet[6];
  CHECK(protocol == 6 || protocol == 17) << "protocol " << int{protocol} << " is not TCP or UDP";
  const bool udp = protocol == 17;
  CHECK_GE(packet.size(), l3 + (udp ? 8u : 20u));
  const uint16_t l4 = udp ? 8 : (packet[l3 + 12] >> 4) * 4;

  VirtioNetHeader h;
  h.flags = kVirtioNeedsChecksum;
  h.gso_type = udp ? kVirtioGsoUdpL4 : (v4 ? kVirtioGsoTcpV4 : kVirtioGsoTcpV6);
  h.hdr_len = l3 + l4;
  h.gso_size = gso_size;
  h.csum_start = l3;
  h.csum_offset = udp ? 6 : 16;
  std::vector<uint8_t> frame = WithEmptyVnetHeader(packet);
  WriteVirtioNetHeader(h, absl::MakeSpan(frame));
  return frame;
}

}  // namespace fstun::testing
