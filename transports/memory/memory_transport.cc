#include "transports/memory/memory_transport.h"

#include <poll.h>

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

void MemoryTransport::SetPeerObserver(PeerObserver* observer) {
  PeerInfo peer;
  peer.id = kPeer;
  peer.takes_vnet = options_.carry_gso_frames;  // both ends are made alike
  peer.mtu = options_.mtu;
  observer->PeerUp(peer);
}

absl::InlinedVector<WaitFd, 2> MemoryTransport::wait_fds() const {
  return {{in_->ready_fd(), POLLIN}};
}

absl::StatusOr<size_t> MemoryTransport::Send(const PeerId& to, absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  if (to != kPeer) {
    counters_.AddDrop("no_route", frames.size());
    return frames.size();
  }
  return out_->Send(frames, options_.mtu, options_.carry_gso_frames, counters_);
}

absl::StatusOr<Transport::Received> MemoryTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  size_t n = in_->Receive(batch, counters_);
  if (n == 0) return Received{};
  return Received{n, kPeer};
}

void MemoryTransport::Close() {
  closed_.store(true);
  in_->Wake();
}

}  // namespace fstun
