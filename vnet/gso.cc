#include "vnet/gso.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "vnet/header.h"

namespace fstun {
namespace {

constexpr uint8_t kNeedsChecksum = kVirtioNeedsChecksum;
constexpr uint8_t kGsoNone = kVirtioGsoNone;
constexpr uint8_t kGsoTcpV4 = kVirtioGsoTcpV4;
constexpr uint8_t kGsoTcpV6 = kVirtioGsoTcpV6;
constexpr uint8_t kGsoEcn = kVirtioGsoEcn;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) { return (uint32_t{Get16(p)} << 16) | Get16(p + 2); }
void Put16(uint8_t* p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v & 0xffff);
}

// Ones'-complement sum of `len` bytes (RFC 1071), not yet folded.
uint64_t Sum(const uint8_t* p, size_t len, uint64_t sum = 0) {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (i < len) sum += p[i] << 8;
  return sum;
}

uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum to store: complemented, and never 0 (0 means "none" in UDP;
// 0xffff is the same value in ones' complement).
uint16_t Finish(uint64_t sum) {
  uint16_t c = static_cast<uint16_t>(~Fold(sum));
  return c == 0 ? 0xffff : c;
}

struct IpInfo {
  bool v4 = false;
  size_t header = 0;  // IP header length
  uint8_t protocol = 0;
};

absl::StatusOr<IpInfo> ParseIp(const uint8_t* p, size_t len) {
  IpInfo ip;
  if (len >= 20 && (p[0] >> 4) == 4) {
    ip.v4 = true;
    ip.header = (p[0] & 0x0f) * 4;
    ip.protocol = p[9];
    if (ip.header < 20 || ip.header > len) return absl::InvalidArgumentError("bad IPv4 header");
    return ip;
  }
  if (len >= 40 && (p[0] >> 4) == 6) {
    ip.header = 40;
    ip.protocol = p[6];
    return ip;
  }
  return absl::InvalidArgumentError("not an IPv4 or IPv6 packet");
}

// Sum of the TCP/UDP pseudo-header for an L4 segment of `l4_len` bytes.
uint64_t PseudoHeaderSum(const uint8_t* ip, const IpInfo& info, size_t l4_len) {
  uint64_t sum = info.v4 ? Sum(ip + 12, 8) : Sum(ip + 8, 32);
  return sum + info.protocol + l4_len;
}

// Writes the IP header fields that differ per segment.
void FixIpHeader(uint8_t* ip, const IpInfo& info, size_t total, uint16_t id_offset) {
  if (info.v4) {
    Put16(ip + 2, static_cast<uint16_t>(total));
    Put16(ip + 4, static_cast<uint16_t>(Get16(ip + 4) + id_offset));
    Put16(ip + 10, 0);
    Put16(ip + 10, static_cast<uint16_t>(~Fold(Sum(ip, info.header))));
  } else {
    Put16(ip + 4, static_cast<uint16_t>(total - 40));
  }
}

// Completes the checksum the kernel left partial (pseudo-header sum only):
// sum from csum_start to the end, store at csum_start + csum_offset.
absl::Status CompleteChecksum(uint8_t* packet, size_t len, const VirtioNetHeader& h) {
  if (h.csum_start >= len || size_t{h.csum_start} + h.csum_offset + 2 > len) {
    return absl::InvalidArgumentError("checksum offsets outside the packet");
  }
  uint8_t* field = packet + h.csum_start + h.csum_offset;
  Put16(field, static_cast<uint16_t>(~Fold(Sum(packet + h.csum_start, len - h.csum_start))));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<size_t> SegmentVnetFrame(FrameView frame, FrameBatch& out) {
  std::optional<VirtioNetHeader> header = ParseVirtioNetHeader(frame);
  if (!header.has_value()) return absl::InvalidArgumentError("frame shorter than a vnet header");
  const VirtioNetHeader& h = *header;
  FrameView packet = VnetPayload(frame);
  const size_t free_slots = out.capacity() - out.size();
  const uint8_t gso_type = h.gso_type & ~kGsoEcn;

  if (gso_type == kGsoNone) {
    if (free_slots < 1 || packet.size() > out.frame_capacity()) {
      return absl::ResourceExhaustedError("no room for the packet");
    }
    absl::Span<uint8_t> slot = out.NextSlot();
    std::memcpy(slot.data(), packet.data(), packet.size());
    if (h.flags & kNeedsChecksum) {
      if (absl::Status s = CompleteChecksum(slot.data(), packet.size(), h); !s.ok()) return s;
    }
    out.CommitNext(packet.size());
    return 1;
  }

  absl::StatusOr<IpInfo> ip = ParseIp(packet.data(), packet.size());
  if (!ip.ok()) return ip.status();
  const bool tcp = gso_type == kGsoTcpV4 || gso_type == kGsoTcpV6;
  if (gso_type != kGsoTcpV4 && gso_type != kGsoTcpV6 && gso_type != kVirtioGsoUdpL4) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported gso_type ", h.gso_type));
  }
  if (ip->protocol != (tcp ? kProtoTcp : kProtoUdp)) {
    return absl::InvalidArgumentError("gso_type does not match the IP protocol");
  }
  if ((gso_type == kGsoTcpV4) != ip->v4 && tcp) {
    return absl::InvalidArgumentError("gso_type does not match the IP version");
  }
  size_t l4_header = 8;
  if (tcp) {
    if (packet.size() < ip->header + 20) return absl::InvalidArgumentError("truncated TCP header");
    l4_header = (packet[ip->header + 12] >> 4) * 4;
    if (l4_header < 20) return absl::InvalidArgumentError("bad TCP header length");
  }
  const size_t headers = ip->header + l4_header;
  if (packet.size() < headers) return absl::InvalidArgumentError("truncated L4 header");
  if (h.gso_size == 0) return absl::InvalidArgumentError("gso_size 0");
  const size_t payload = packet.size() - headers;
  const size_t count = std::max<size_t>(1, (payload + h.gso_size - 1) / h.gso_size);
  if (count > free_slots ||
      headers + std::min<size_t>(payload, h.gso_size) > out.frame_capacity()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no room for ", count, " segments of ", headers + h.gso_size, " bytes"));
  }

  const uint32_t first_seq = tcp ? Get32(packet.data() + ip->header + 4) : 0;
  const uint8_t tcp_flags = tcp ? packet[ip->header + 13] : 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t offset = i * h.gso_size;
    const size_t chunk = std::min<size_t>(h.gso_size, payload - offset);
    const size_t total = headers + chunk;
    uint8_t* seg = out.NextSlot().data();
    std::memcpy(seg, packet.data(), headers);
    std::memcpy(seg + headers, packet.data() + headers + offset, chunk);
    FixIpHeader(seg, *ip, total, static_cast<uint16_t>(i));
    uint8_t* l4 = seg + ip->header;
    const size_t l4_len = total - ip->header;
    if (tcp) {
      Put32(l4 + 4, first_seq + static_cast<uint32_t>(offset));
      uint8_t flags = tcp_flags;
      if (i + 1 < count) flags &= ~(kTcpFin | kTcpPsh);
      if (i > 0) flags &= ~kTcpCwr;
      l4[13] = flags;
      Put16(l4 + 16, 0);
      Put16(l4 + 16,
            static_cast<uint16_t>(~Fold(Sum(l4, l4_len, PseudoHeaderSum(seg, *ip, l4_len)))));
    } else {
      Put16(l4 + 4, static_cast<uint16_t>(l4_len));
      Put16(l4 + 6, 0);
      Put16(l4 + 6, Finish(Sum(l4, l4_len, PseudoHeaderSum(seg, *ip, l4_len))));
    }
    out.CommitNext(total);
  }
  return count;
}

}  // namespace fstun
