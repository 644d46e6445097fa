// The memory transport: two endpoints in one process joined by bounded
// queues. What one endpoint sends, the other receives. Used by tests, by the
// pump's end-to-end test and by the benchmark's "core limit" row (two TUNs
// joined in one process, so only the core and TUN I/O cost anything).
//
//   auto [a, b] = MemoryTransport::CreatePair({.mtu = 1500});
//   a->Send(MemoryTransport::kPeer, frames);  // b->wait_fds() becomes readable
//   b->Receive(batch);
#ifndef FSTUN_TRANSPORTS_MEMORY_MEMORY_TRANSPORT_H_
#define FSTUN_TRANSPORTS_MEMORY_MEMORY_TRANSPORT_H_

#include <atomic>
#include <memory>
#include <utility>

#include "core/counters.h"
#include "core/frame_channel.h"
#include "core/transport.h"

namespace fstun {

struct MemoryTransportOptions {
  size_t mtu = 1500;
  // Bounds of each direction's queue; a full queue drops ("queue_full").
  size_t queue_frames = 4096;
  size_t queue_bytes = 16 << 20;
  // Accept GSO super-frames (up to kMaxFrameSize) as well as MTU frames.
  bool carry_gso_frames = false;
};

class MemoryTransport : public Transport {
 public:
  static std::pair<std::unique_ptr<MemoryTransport>, std::unique_ptr<MemoryTransport>> CreatePair(
      const MemoryTransportOptions& options);

  // Each end's one peer: the other end.
  static constexpr char kPeer[] = "memory-peer";

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<WaitFd, 2> wait_fds() const override;
  // Queues in memory: nothing beyond the core's own calls.
  SyscallNeeds syscalls() const override { return {}; }
  size_t mtu() const override { return options_.mtu; }
  TransportCapabilities capabilities() const override;
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  void Close() override;

 private:
  MemoryTransport(const MemoryTransportOptions& options, std::shared_ptr<FrameChannel> in,
                  std::shared_ptr<FrameChannel> out)
      : options_(options), in_(std::move(in)), out_(std::move(out)) {}

  const MemoryTransportOptions options_;
  const std::shared_ptr<FrameChannel> in_;
  const std::shared_ptr<FrameChannel> out_;
  std::atomic<bool> closed_{false};
  Counters counters_;
};

}  // namespace fstun

#endif  // FSTUN_TRANSPORTS_MEMORY_MEMORY_TRANSPORT_H_
