#include "tun/offload.h"

#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<unsigned> EnableTunOffloads(int fd, absl::string_view ifname) {
  const unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  const unsigned candidates[] = {tso | kTunOffloadUso4 | kTunOffloadUso6, tso, TUN_F_CSUM};
  int last_error = 0;
  for (unsigned flags : candidates) {
    if (ioctl(fd, TUNSETOFFLOAD, flags) == 0) return flags;
    last_error = errno;
    if (last_error != EINVAL) break;  // not a question of which flags
  }
  return absl::FailedPreconditionError(absl::StrCat("cannot turn on offloads on ", ifname, ": ",
                                                    strerror(last_error),
                                                    " (run without vnet headers instead)"));
}

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

std::vector<uint8_t> WithEmptyVnetHeader(FrameView packet) {
  std::vector<uint8_t> frame(kVirtioNetHdrSize + packet.size(), 0);
  if (!packet.empty()) std::memcpy(frame.data() + kVirtioNetHdrSize, packet.data(), packet.size());
  return frame;
}

}  // namespace fstun
