#include "core/frame.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "glog/logging.h"

namespace fstun {

const char* FrameFormatName(FrameFormat format) {
  return format == FrameFormat::kVnet ? "vnet" : "ip";
}

FrameBatch::FrameBatch(size_t max_frames, size_t frame_capacity)
    : max_frames_(max_frames),
      slot_size_((frame_capacity + 63) & ~size_t{63}),
      storage_(new uint8_t[max_frames * ((frame_capacity + 63) & ~size_t{63})]),
      slots_(max_frames),
      views_(max_frames) {
  CHECK_GT(max_frames, 0u);
  CHECK_GT(frame_capacity, 0u);
  for (size_t i = 0; i < max_frames_; ++i) slots_[i] = storage_.get() + i * slot_size_;
}

absl::Span<uint8_t> FrameBatch::NextSlot() {
  DCHECK(!full());
  return absl::MakeSpan(slots_[count_], slot_size_);
}

void FrameBatch::CommitNext(size_t size) {
  DCHECK(!full());
  DCHECK_LE(size, slot_size_);
  views_[count_] = FrameView(slots_[count_], size);
  ++count_;
}

bool FrameBatch::Append(FrameView frame) {
  if (full() || frame.size() > slot_size_) return false;
  if (!frame.empty()) std::memcpy(slots_[count_], frame.data(), frame.size());
  CommitNext(frame.size());
  return true;
}

void FrameBatch::ConsumeFront(size_t n) {
  if (n >= count_) {
    count_ = 0;
    return;
  }
  // Rotate slot pointers so the consumed slots become free at the end.
  std::rotate(slots_.begin(), slots_.begin() + n, slots_.begin() + count_);
  std::rotate(views_.begin(), views_.begin() + n, views_.begin() + count_);
  count_ -= n;
}

}  // namespace fstun
