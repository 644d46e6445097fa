#include "transports/fs/offload_adapter.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "transports/fs/record.h"
#include "vnet/gso.h"
#include "vnet/header.h"

namespace fstun::fs {

void OffloadAdapter::ToPlainPeer(absl::Span<const FrameView> frames, size_t peer_mtu,
                                 Counters& counters,
                                 absl::FunctionRef<void(absl::Span<const FrameView>)> write) {
  if (work_ == nullptr) {
    work_ = std::make_unique<FrameBatch>(kMaxRecordFrames, std::max<size_t>(mtu_, 1500) + 64);
  }
  work_->Clear();
  // Views of the adapted frames: into `frames` (header skipped) or into work_.
  absl::InlinedVector<FrameView, 64> run;
  auto flush = [&] {
    if (!run.empty()) write(run);
    run.clear();
    work_->Clear();
  };
  for (FrameView frame : frames) {
    std::optional<VirtioNetHeader> h = ParseVirtioNetHeader(frame);
    if (h && h->gso_type == 0 && (h->flags & 1) == 0) {  // no GSO, checksum done
      FrameView packet = VnetPayload(frame);
      if (packet.size() > peer_mtu) {
        counters.AddDrop("peer_mtu");
        continue;
      }
      run.push_back(packet);
      continue;
    }
    // Room for the largest super-packet cut at the smallest sane segment size.
    if (work_->capacity() - work_->size() < 128) flush();
    size_t before = work_->size();
    absl::StatusOr<size_t> n = SegmentVnetFrame(frame, *work_);
    if (!n.ok()) {
      counters.AddDrop("bad_offload_frame");
      continue;
    }
    for (size_t i = before; i < work_->size(); ++i) {
      FrameView seg = (*work_)[i];
      if (seg.size() > peer_mtu) {
        counters.AddDrop("peer_mtu");
        continue;
      }
      run.push_back(seg);
    }
  }
  flush();
}

bool DeliverFrame(FrameView frame, bool add_vnet_header, FrameBatch& batch) {
  if (!add_vnet_header) return batch.Append(frame);
  absl::Span<uint8_t> slot = batch.NextSlot();
  if (kVirtioNetHdrSize + frame.size() > slot.size()) return false;
  std::memset(slot.data(), 0, kVirtioNetHdrSize);
  std::memcpy(slot.data() + kVirtioNetHdrSize, frame.data(), frame.size());
  batch.CommitNext(kVirtioNetHdrSize + frame.size());
  return true;
}

}  // namespace fstun::fs
