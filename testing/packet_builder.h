// Builders of realistic IP packets for tests: IPv4/IPv6 with ICMP echo, UDP
// or TCP, all checksums valid, so the kernel accepts them when written to a
// real TUN.
//
//   std::vector<uint8_t> p = PacketBuilder::Udp(Ip("192.0.2.2"), Ip("192.0.2.1"),
//                                               4000, 5000, payload);
#ifndef FSTUN_TESTING_PACKET_BUILDER_H_
#define FSTUN_TESTING_PACKET_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/frame.h"
#include "core/ip_address.h"

namespace fstun::testing {

// Parses an address or aborts (tests only).
IpAddress Ip(absl::string_view text);

class PacketBuilder {
 public:
  static std::vector<uint8_t> Udp(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                  uint16_t dport, FrameView payload);
  static std::vector<uint8_t> IcmpEcho(const IpAddress& src, const IpAddress& dst, uint16_t id,
                                       uint16_t seq, FrameView payload, bool reply = false);
  // A TCP segment; flags as in the header (0x02 SYN, 0x10 ACK, 0x18 PSH|ACK).
  static std::vector<uint8_t> Tcp(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                  uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                                  FrameView payload);
  // A UDP packet of exactly `total_size` bytes (>= 48 for IPv6, 28 for
  // IPv4) whose payload starts with `tag` (4 bytes, big endian) and is filled
  // with a pattern derived from it.
  static std::vector<uint8_t> TaggedUdp(const IpAddress& src, const IpAddress& dst, uint32_t tag,
                                        size_t total_size);
  // The tag of a TaggedUdp packet, or -1 if it is not one.
  static int64_t TagOf(FrameView packet);
};

// RFC 1071 checksum of `data`, folded, starting from `sum`.
uint16_t InternetChecksum(FrameView data, uint32_t sum = 0);

}  // namespace fstun::testing

#endif  // FSTUN_TESTING_PACKET_BUILDER_H_
