// FrameChannel: one direction of an in-process link, a bounded FrameQueue
// plus the eventfd its receiver polls. The memory transport joins two ends
// with two channels; the loopback transport sends into its own.
//
//   FrameChannel channel(4096, 16 << 20);
//   channel.Send(frames, mtu, /*carries_gso=*/false, sender_counters);
//   channel.Receive(batch, receiver_counters);  // readiness: channel.ready_fd()
#ifndef FSTUN_CORE_FRAME_CHANNEL_H_
#define FSTUN_CORE_FRAME_CHANNEL_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/event_fd.h"
#include "core/frame.h"
#include "core/frame_queue.h"

namespace fstun {

class FrameChannel {
 public:
  FrameChannel(size_t max_frames, size_t max_bytes) : queue_(max_frames, max_bytes) {}

  // Queues the acceptable frames (core/send_checks.h) and wakes the
  // receiver; refused frames and those a full queue cannot take are dropped
  // and counted ("oversize", "queue_full"). Takes every frame: returns
  // frames.size(), as Transport::Send does.
  size_t Send(absl::Span<const FrameView> frames, size_t mtu, bool carries_gso, Counters& counters);
  // Moves ready frames into `batch`; never blocks. Returns how many.
  size_t Receive(FrameBatch& batch, Counters& counters);

  int ready_fd() const { return ready_.fd(); }
  // Makes ready_fd() readable (Close() of a transport wakes its poller).
  void Wake() const { ready_.Signal(); }

 private:
  FrameQueue queue_;
  EventFd ready_;
};

}  // namespace fstun

#endif  // FSTUN_CORE_FRAME_CHANNEL_H_
