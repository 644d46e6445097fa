#include "core/frame_queue.h"

#include <utility>

namespace fstun {

FrameQueue::FrameQueue(size_t max_frames, size_t max_bytes)
    : max_frames_(max_frames), max_bytes_(max_bytes) {}

bool FrameQueue::Push(FrameView frame) {
  absl::MutexLock lock(&mu_);
  if (frames_.size() >= max_frames_ || bytes_ + frame.size() > max_bytes_) return false;
  std::vector<uint8_t> buf;
  if (!free_.empty()) {
    buf = std::move(free_.back());
    free_.pop_back();
  }
  buf.assign(frame.begin(), frame.end());
  bytes_ += frame.size();
  frames_.push_back(std::move(buf));
  return true;
}

size_t FrameQueue::PopInto(FrameBatch& batch) {
  absl::MutexLock lock(&mu_);
  size_t moved = 0;
  while (!frames_.empty() && !batch.full()) {
    std::vector<uint8_t>& front = frames_.front();
    if (!batch.Append(front)) break;  // slot too small: leave it for a bigger batch
    bytes_ -= front.size();
    free_.push_back(std::move(front));
    frames_.pop_front();
    ++moved;
  }
  return moved;
}

size_t FrameQueue::size() const {
  absl::MutexLock lock(&mu_);
  return frames_.size();
}

size_t FrameQueue::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace fstun
