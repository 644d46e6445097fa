#include "transports/loopback/loopback_transport.h"

#include <poll.h>

#include "core/send_checks.h"

namespace fstun {

LoopbackTransport::LoopbackTransport(const LoopbackTransportOptions& options)
    : options_(options), channel_(options.queue_frames, options.queue_bytes) {}

TransportCapabilities LoopbackTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.carry_gso_frames;
  return caps;
}

void LoopbackTransport::SetPeerObserver(PeerObserver* observer) {
  PeerInfo peer;
  peer.id = kPeer;
  peer.takes_vnet = options_.carry_gso_frames;
  peer.mtu = options_.mtu;
  observer->PeerUp(peer);
}

absl::InlinedVector<WaitFd, 2> LoopbackTransport::wait_fds() const {
  return {{channel_.ready_fd(), POLLIN}};
}

absl::StatusOr<size_t> LoopbackTransport::Send(const PeerId& to,
                                               absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  if (to != kPeer) {
    counters_.AddDrop("no_route", frames.size());
    return frames.size();
  }
  return channel_.Send(frames, options_.mtu, options_.carry_gso_frames, counters_);
}

absl::StatusOr<Transport::Received> LoopbackTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  size_t n = channel_.Receive(batch, counters_);
  if (n == 0) return Received{};
  return Received{n, kPeer};
}

void LoopbackTransport::Close() {
  closed_.store(true);
  channel_.Wake();
}

}  // namespace fstun
