#include "transports/loopback/loopback_transport.h"

#include "core/send_checks.h"

namespace fstun {

LoopbackTransport::LoopbackTransport(const LoopbackTransportOptions& options)
    : options_(options), channel_(options.queue_frames, options.queue_bytes) {}

TransportCapabilities LoopbackTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.carry_gso_frames;
  return caps;
}

absl::Status LoopbackTransport::Send(absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  return channel_.Send(frames, options_.mtu, options_.carry_gso_frames, counters_);
}

absl::StatusOr<size_t> LoopbackTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  return channel_.Receive(batch, counters_);
}

void LoopbackTransport::Close() {
  closed_.store(true);
  channel_.Wake();
}

}  // namespace fstun
