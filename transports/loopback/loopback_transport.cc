#include "transports/loopback/loopback_transport.h"

#include "core/send_checks.h"

namespace fstun {

LoopbackTransport::LoopbackTransport(const LoopbackTransportOptions& options)
    : options_(options), queue_(options.queue_frames, options.queue_bytes) {}

TransportCapabilities LoopbackTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.carry_gso_frames;
  return caps;
}

absl::Status LoopbackTransport::Send(absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  size_t refused = 0;
  size_t sent = 0;
  for (FrameView f : frames) {
    if (!AcceptForSend(f, options_.mtu, options_.carry_gso_frames, counters_)) {
      ++refused;
      continue;
    }
    if (!queue_.Push(f)) {
      counters_.AddDrop(kDropQueueFull);
      continue;
    }
    counters_.AddTx(1, f.size());
    ++sent;
  }
  if (sent > 0) ready_.Signal();
  return refused > 0 ? RefusedStatus(refused, options_.mtu) : absl::OkStatus();
}

absl::StatusOr<size_t> LoopbackTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  ready_.Drain();
  size_t before = batch.size();
  size_t n = queue_.PopInto(batch);
  uint64_t bytes = 0;
  for (size_t i = before; i < batch.size(); ++i) bytes += batch[i].size();
  counters_.AddRx(n, bytes);
  if (queue_.size() > 0) ready_.Signal();
  return n;
}

void LoopbackTransport::Close() {
  closed_.store(true);
  ready_.Signal();
}

}  // namespace fstun
