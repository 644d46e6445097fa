// FrameQueue: a bounded, thread-safe FIFO of frames with recycled buffers.
//
// Used where frames must be held between a producer and a consumer in one
// process (the memory and loopback transports, the fake device). Buffers are
// kept on a free list and reused, so after warm-up pushing and popping
// allocates nothing. The queue is bounded by frames and by bytes; Push
// refuses (returns false) when either bound would be passed, so the caller
// can count the drop.
#ifndef FSTUN_CORE_FRAME_QUEUE_H_
#define FSTUN_CORE_FRAME_QUEUE_H_

#include <cstddef>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/frame.h"

namespace fstun {

class FrameQueue {
 public:
  FrameQueue(size_t max_frames, size_t max_bytes);

  // Copies `frame` in. False if the queue is full (frames or bytes).
  bool Push(FrameView frame);
  // Moves frames into `batch` until it is full or the queue is empty.
  // Returns how many were moved.
  size_t PopInto(FrameBatch& batch);

  size_t size() const;
  size_t bytes() const;

 private:
  const size_t max_frames_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::deque<std::vector<uint8_t>> frames_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<uint8_t>> free_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fstun

#endif  // FSTUN_CORE_FRAME_QUEUE_H_
