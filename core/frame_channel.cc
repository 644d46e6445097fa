#include "core/frame_channel.h"

#include "core/send_checks.h"

namespace fstun {

size_t FrameChannel::Send(absl::Span<const FrameView> frames, size_t mtu, bool carries_gso,
                          Counters& counters) {
  size_t sent = 0;
  for (FrameView f : frames) {
    if (!AcceptForSend(f, mtu, carries_gso, counters)) continue;
    if (!queue_.Push(f)) {
      counters.AddDrop(kDropQueueFull);
      continue;
    }
    counters.AddTx(1, f.size());
    ++sent;
  }
  if (sent > 0) ready_.Signal();
  return frames.size();
}

size_t FrameChannel::Receive(FrameBatch& batch, Counters& counters) {
  // Drain before popping: a frame pushed after the pop re-signals the fd.
  ready_.Drain();
  size_t before = batch.size();
  size_t n = queue_.PopInto(batch);
  uint64_t bytes = 0;
  for (size_t i = before; i < batch.size(); ++i) bytes += batch[i].size();
  counters.AddRx(n, bytes);
  if (queue_.size() > 0) ready_.Signal();  // more left than the batch held
  return n;
}

}  // namespace fstun
