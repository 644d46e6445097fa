// The loopback transport: an echo. What an endpoint sends, it receives back
// itself. With a TUN on one side, every packet the kernel routes into the
// tunnel comes back out of it; used by the pump's end-to-end test and for
// micro-benchmarks of the core.
#ifndef FSTUN_TRANSPORTS_LOOPBACK_LOOPBACK_TRANSPORT_H_
#define FSTUN_TRANSPORTS_LOOPBACK_LOOPBACK_TRANSPORT_H_

#include <atomic>

#include "core/counters.h"
#include "core/frame_channel.h"
#include "core/transport.h"

namespace fstun {

struct LoopbackTransportOptions {
  size_t mtu = 1500;
  size_t queue_frames = 4096;  // a full queue drops ("queue_full")
  size_t queue_bytes = 16 << 20;
  bool carry_gso_frames = false;
};

class LoopbackTransport : public Transport {
 public:
  explicit LoopbackTransport(const LoopbackTransportOptions& options);

  // The one peer: this end itself.
  static constexpr char kPeer[] = "loopback";

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<WaitFd, 2> wait_fds() const override;
  // A queue in memory: nothing beyond the core's own calls.
  SyscallNeeds syscalls() const override { return {}; }
  size_t mtu() const override { return options_.mtu; }
  TransportCapabilities capabilities() const override;
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  void Close() override;

 private:
  const LoopbackTransportOptions options_;
  FrameChannel channel_;  // what Send queues, Receive takes
  std::atomic<bool> closed_{false};
  Counters counters_;
};

}  // namespace fstun

#endif  // FSTUN_TRANSPORTS_LOOPBACK_LOOPBACK_TRANSPORT_H_
