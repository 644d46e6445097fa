#include "transports/memory/memory_transport.h"

#include "core/send_checks.h"

namespace fstun {

std::pair<std::unique_ptr<MemoryTransport>, std::unique_ptr<MemoryTransport>>
MemoryTransport::CreatePair(const MemoryTransportOptions& options) {
  auto a_to_b = std::make_shared<Direction>(options.queue_frames, options.queue_bytes);
  auto b_to_a = std::make_shared<Direction>(options.queue_frames, options.queue_bytes);
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
  size_t refused = 0;
  size_t sent = 0;
  for (FrameView f : frames) {
    if (!AcceptForSend(f, options_.mtu, options_.carry_gso_frames, counters_)) {
      ++refused;
      continue;
    }
    if (!out_->queue.Push(f)) {
      counters_.AddDrop(kDropQueueFull);
      continue;
    }
    counters_.AddTx(1, f.size());
    ++sent;
  }
  if (sent > 0) out_->ready.Signal();
  return refused > 0 ? RefusedStatus(refused, options_.mtu) : absl::OkStatus();
}

absl::StatusOr<size_t> MemoryTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  // Drain before popping: a frame pushed after the pop re-signals the fd.
  in_->ready.Drain();
  size_t before = batch.size();
  size_t n = in_->queue.PopInto(batch);
  uint64_t bytes = 0;
  for (size_t i = before; i < batch.size(); ++i) bytes += batch[i].size();
  counters_.AddRx(n, bytes);
  if (in_->queue.size() > 0) in_->ready.Signal();  // more left than the batch held
  return n;
}

void MemoryTransport::Close() {
  closed_.store(true);
  in_->ready.Signal();
}

}  // namespace fstun
