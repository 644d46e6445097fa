#include "testing/packet_builder.h"

#include <cstring>

#include "glog/logging.h"

namespace fstun::testing {
namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmp6 = 58;

void Put16(uint8_t* p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v & 0xffff);
}

uint32_t SumWords(FrameView data, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += (data[i] << 8) | data[i + 1];
  if (i < data.size()) sum += data[i] << 8;
  return sum;
}

// Pseudo-header sum for TCP/UDP/ICMPv6 checksums.
uint32_t PseudoHeaderSum(const IpAddress& src, const IpAddress& dst, uint8_t proto, size_t length) {
  uint32_t sum = 0;
  sum = SumWords(FrameView(src.bytes.data(), src.size()), sum);
  sum = SumWords(FrameView(dst.bytes.data(), dst.size()), sum);
  sum += proto;
  sum += static_cast<uint32_t>(length);
  return sum;
}

// Wraps an L4 segment (whose checksum field is at `csum_offset`, or -1) in an
// IP header and fills in the checksums.
std::vector<uint8_t> WrapIp(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                            std::vector<uint8_t> l4, int csum_offset, bool pseudo) {
  CHECK_EQ(src.family, dst.family);
  bool v4 = src.is_v4();
  if (!v4 && proto == kProtoIcmp) proto = kProtoIcmp6;
  if (csum_offset >= 0) {
    uint32_t start = (pseudo || !v4) ? PseudoHeaderSum(src, dst, proto, l4.size()) : 0;
    uint16_t c = InternetChecksum(l4, start);
    if (proto == kProtoUdp && c == 0) c = 0xffff;
    Put16(&l4[csum_offset], c);
  }
  size_t hdr = v4 ? 20 : 40;
  std::vector<uint8_t> p(hdr + l4.size());
  if (v4) {
    p[0] = 0x45;
    Put16(&p[2], static_cast<uint16_t>(p.size()));
    p[6] = 0x40;  // don't fragment
    p[8] = 64;
    p[9] = proto;
    std::memcpy(&p[12], src.bytes.data(), 4);
    std::memcpy(&p[16], dst.bytes.data(), 4);
    Put16(&p[10], InternetChecksum(FrameView(p.data(), 20)));
  } else {
    p[0] = 0x60;
    Put16(&p[4], static_cast<uint16_t>(l4.size()));
    p[6] = proto;
    p[7] = 64;
    std::memcpy(&p[8], src.bytes.data(), 16);
    std::memcpy(&p[24], dst.bytes.data(), 16);
  }
  std::memcpy(&p[hdr], l4.data(), l4.size());
  return p;
}

}  // namespace

IpAddress Ip(absl::string_view text) {
  absl::StatusOr<IpAddress> a = IpAddress::Parse(text);
  CHECK(a.ok()) << a.status();
  return *a;
}

uint16_t InternetChecksum(FrameView data, uint32_t sum) {
  sum = SumWords(data, sum);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> PacketBuilder::Udp(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                        uint16_t dport, FrameView payload) {
  std::vector<uint8_t> l4(8 + payload.size());
  Put16(&l4[0], sport);
  Put16(&l4[2], dport);
  Put16(&l4[4], static_cast<uint16_t>(l4.size()));
  if (!payload.empty()) std::memcpy(&l4[8], payload.data(), payload.size());
  return WrapIp(src, dst, kProtoUdp, std::move(l4), 6, true);
}

std::vector<uint8_t> PacketBuilder::IcmpEcho(const IpAddress& src, const IpAddress& dst,
                                             uint16_t id, uint16_t seq, FrameView payload,
                                             bool reply) {
  std::vector<uint8_t> l4(8 + payload.size());
  if (src.is_v4()) {
    l4[0] = reply ? 0 : 8;
  } else {
    l4[0] = reply ? 129 : 128;
  }
  Put16(&l4[4], id);
  Put16(&l4[6], seq);
  if (!payload.empty()) std::memcpy(&l4[8], payload.data(), payload.size());
  return WrapIp(src, dst, kProtoIcmp, std::move(l4), 2, /*pseudo=*/false);
}

std::vector<uint8_t> PacketBuilder::Tcp(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                        uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                                        FrameView payload) {
  std::vector<uint8_t> l4(20 + payload.size());
  Put16(&l4[0], sport);
  Put16(&l4[2], dport);
  Put32(&l4[4], seq);
  Put32(&l4[8], ack);
  l4[12] = 5 << 4;
  l4[13] = flags;
  Put16(&l4[14], 65535);
  if (!payload.empty()) std::memcpy(&l4[20], payload.data(), payload.size());
  return WrapIp(src, dst, kProtoTcp, std::move(l4), 16, true);
}

std::vector<uint8_t> PacketBuilder::TaggedUdp(const IpAddress& src, const IpAddress& dst,
                                              uint32_t tag, size_t total_size) {
  size_t headers = (src.is_v4() ? 20 : 40) + 8;
  CHECK_GE(total_size, headers + 4);
  std::vector<uint8_t> payload(total_size - headers);
  Put32(payload.data(), tag);
  for (size_t i = 4; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(tag * 31 + i);
  return Udp(src, dst, 40000, 40001, payload);
}

int64_t PacketBuilder::TagOf(FrameView p) {
  if (p.empty()) return -1;
  size_t hdr = (p[0] >> 4) == 4 ? 20 : ((p[0] >> 4) == 6 ? 40 : 0);
  if (hdr == 0 || p.size() < hdr + 12) return -1;
  const uint8_t* t = p.data() + hdr + 8;
  uint32_t tag = (uint32_t{t[0]} << 24) | (t[1] << 16) | (t[2] << 8) | t[3];
  for (size_t i = hdr + 12; i < p.size(); ++i) {
    if (p[i] != static_cast<uint8_t>(tag * 31 + (i - hdr - 8))) return -1;  // corrupted
  }
  return tag;
}

}  // namespace fstun::testing
