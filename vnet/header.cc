#include "vnet/header.h"

#include <cstring>

namespace fstun {
namespace {

// struct virtio_net_hdr (linux/virtio_net.h, which does not compile as C++:
// it has a field named `class`).
struct RawVirtioNetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(RawVirtioNetHdr) == kVirtioNetHdrSize, "virtio_net_hdr size");

}  // namespace

std::optional<VirtioNetHeader> ParseVirtioNetHeader(FrameView frame) {
  if (frame.size() < kVirtioNetHdrSize) return std::nullopt;
  RawVirtioNetHdr raw;
  std::memcpy(&raw, frame.data(), sizeof(raw));
  VirtioNetHeader h;
  h.flags = raw.flags;
  h.gso_type = raw.gso_type;
  h.hdr_len = raw.hdr_len;
  h.gso_size = raw.gso_size;
  h.csum_start = raw.csum_start;
  h.csum_offset = raw.csum_offset;
  return h;
}

void WriteVirtioNetHeader(const VirtioNetHeader& h, absl::Span<uint8_t> out) {
  RawVirtioNetHdr raw{h.flags, h.gso_type, h.hdr_len, h.gso_size, h.csum_start, h.csum_offset};
  std::memcpy(out.data(), &raw, sizeof(raw));
}

std::vector<uint8_t> WithEmptyVnetHeader(FrameView packet) {
  std::vector<uint8_t> frame(kVirtioNetHdrSize + packet.size(), 0);
  if (!packet.empty()) std::memcpy(frame.data() + kVirtioNetHdrSize, packet.data(), packet.size());
  return frame;
}

}  // namespace fstun
