#include "transports/memory/memory_transport.h"

#include "core/send_checks.h"

namespace fstun {

std::pair<std::unique_ptr<MemoryTransport>, std::unique_ptr<MemoryTransport>>
MemoryTransport::CreatePair(const MemoryTransportOptions& options) {
  auto a_to_b = std::make_shared<FrameChannel>(options.queue_frames, options.queue_bytes);
  auto b_to_a = std::make_shared<FrameChannel>(options.queue_frames, options.queue_bytes);
  std::unique_ptr<MemoryTransport> a(new MemoryTransport(options, b_to_a, a_to_b));
  std::unique_ptr<MemoryTransport> b(new MemoryTransport(options, a_to_b, b_to_a));
  return {std::move(a), std::move(b)};
}

TransportCapabilities MemoryTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.carry_gso_frames;
  return caps;
}

absl::Status MemoryTransport::Send(absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  return out_->Send(frames, options_.mtu, options_.carry_gso_frames, counters_);
}

absl::StatusOr<size_t> MemoryTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  return in_->Receive(batch, counters_);
}

void MemoryTransport::Close() {
  closed_.store(true);
  in_->Wake();
}

}  // namespace fstun
