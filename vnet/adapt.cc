#include "vnet/adapt.h"

#include <cstring>

#include "vnet/gso.h"
#include "vnet/header.h"

namespace fstun {

absl::StatusOr<size_t> ConvertFrame(FrameView frame, FrameFormat from, FrameFormat to,
                                    FrameBatch& out) {
  if (from == FrameFormat::kVnet && to == FrameFormat::kIp) return SegmentVnetFrame(frame, out);
  const size_t header =
      from == FrameFormat::kIp && to == FrameFormat::kVnet ? kVirtioNetHdrSize : 0;
  if (out.full() || frame.size() + header > out.frame_capacity()) {
    return absl::ResourceExhaustedError("no room for the frame");
  }
  absl::Span<uint8_t> slot = out.NextSlot();
  if (header > 0) std::memset(slot.data(), 0, header);
  if (!frame.empty()) std::memcpy(slot.data() + header, frame.data(), frame.size());
  out.CommitNext(header + frame.size());
  return 1;
}

}  // namespace fstun
