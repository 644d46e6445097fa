// SealedTransport: a Transport decorator that seals every frame (see
// seal/sealed_frame.h) before the inner transport carries it, and opens,
// authenticates and replay-checks every frame the inner one delivers.
//
// It works with any transport, because it only sees frames: the inner
// transport carries opaque sealed frames, 40 bytes (kSealOverhead) larger
// than the plaintext. The tunnel MTU stays what the user set: mtu() reports
// the outer MTU and the inner transport must accept mtu + kSealOverhead
// (create it from SealedInnerConfig(config); Create checks it).
//
//   TransportConfig inner_config = SealedInnerConfig(config);
//   auto inner = TransportRegistry::Global().Create("fs", inner_config);
//   auto sealed = SealedTransport::Create(*std::move(inner), std::move(key),
//                                         {.mtu = config.mtu, .sender_id = ...});
//
// Frames that fail to open are never delivered; each is counted under its
// reason (sealed_frame.h). The first Send starts with a hello, and a frame
// refused because its sender does not know this end's session (this end
// restarted) is answered with one, so peers learn each other's session. A frame that fails
// authentication logs one warning "peer X: authentication failed, check --key_file", repeated at
// most every 5 minutes with a count, so a wrong key or an attacker cannot
// flood the log.
//
// Sealing is per frame, not per batch: each frame stays an independent
// unit that the inner transport may drop (queue full) or deliver on its
// own, exactly as the Transport contract describes, and a lost or forged
// frame costs only itself. The price is 40 bytes and one AEAD call per
// frame (see seal/seal_benchmark.cc for the cost).
//
// Sealing works per peer, below the core's routing table: Send(to, ...)
// seals with what this end knows of peer `to` (the session to echo, whether
// it still needs a hello), and Receive records what it learns from the peer
// the inner transport names as the sender. Peers reported by the inner
// transport are passed up with their MTU lowered by kSealOverhead.
#ifndef FSTUN_SEAL_SEALED_TRANSPORT_H_
#define FSTUN_SEAL_SEALED_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/frame.h"
#include "core/registry.h"
#include "core/transport.h"
#include "seal/cipher.h"
#include "seal/key.h"
#include "seal/sealed_frame.h"

namespace fstun {

struct SealedTransportOptions {
  // The tunnel MTU: the largest plaintext frame Send accepts.
  size_t mtu = 1500;
  // Identifies this end to its peers; must differ between the peers of one
  // tunnel. SenderIdFor(config.addresses) derives it from the tunnel address.
  uint32_t sender_id = 0;
  // 0: a new one from NewSessionId().
  uint64_t session = 0;
  // What this end seals data frames with (it opens both).
  aead::Cipher cipher = aead::AutoCipher();
};

// `config` with the MTU raised by kSealOverhead: the configuration to create
// the inner transport with.
TransportConfig SealedInnerConfig(const TransportConfig& config);

// The default sender id: the first IPv4 tunnel address, else the last four
// bytes of the first IPv6 one, else a random number.
uint32_t SenderIdFor(const std::vector<IpPrefix>& addresses);

class SealedTransport : public Transport, private PeerObserver {
 public:
  // InvalidArgument if the inner transport cannot carry sealed frames of
  // options.mtu (its mtu() is below options.mtu + kSealOverhead).
  static absl::StatusOr<std::unique_ptr<SealedTransport>> Create(
      std::unique_ptr<Transport> inner, Key key, const SealedTransportOptions& options);

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<WaitFd, 2> wait_fds() const override { return inner_->wait_fds(); }
  absl::Duration poll_interval() const override { return inner_->poll_interval(); }
  size_t mtu() const override { return mtu_; }
  TransportCapabilities capabilities() const override { return inner_->capabilities(); }
  // The inner transport's; sealing needs getrandom only (core's list has it).
  SyscallNeeds syscalls() const override { return inner_->syscalls(); }
  // tx: frames the inner transport took (its bytes less the overhead);
  // rx: frames that opened and were delivered; drops: the inner
  // transport's and this layer's.
  CounterSnapshot counters() const override;
  std::vector<PeerStatus> peers() const override { return inner_->peers(); }
  void Close() override;

  const Transport& inner() const { return *inner_; }
  uint64_t session() const { return sealer_.session(); }

 private:
  // What this end knows of one peer of the inner transport.
  struct PeerSeal {
    uint64_t echo = 0;      // the peer's session, as last learned
    bool hello_due = true;  // the first Send to it starts with a hello
    absl::Time hello_sent_at = absl::InfinitePast();
  };

  SealedTransport(std::unique_ptr<Transport> inner, std::unique_ptr<Key> key,
                  const SealedTransportOptions& options, uint64_t session);

  // PeerObserver (the inner transport's reports).
  void PeerUp(const PeerInfo& peer) override;
  void PeerDown(const PeerId& id) override;

  // Sends a hello to `to` on its own (see sealed_frame.h), at most every
  // kHelloInterval unless `now_anyway`.
  void SendHello(const PeerId& to, PeerSeal& peer, bool now_anyway);
  void NoteAuthFailure(uint32_t sender_id);
  void NoteNewSession(uint32_t sender_id);

  const std::unique_ptr<Transport> inner_;
  // Heap-held so the sealer's and opener's references stay valid.
  const std::unique_ptr<Key> key_;
  const size_t mtu_;
  const size_t max_plain_;  // mtu_, or kMaxFrameSize - overhead for GSO
  FrameSealer sealer_;
  FrameOpener opener_;
  FrameBatch outbound_;  // sealed frames for one inner_->Send
  // The index in Send's `frames` of each frame in outbound_.
  std::vector<size_t> origin_;
  PeerObserver* observer_ = nullptr;
  absl::flat_hash_map<PeerId, PeerSeal> peer_seal_;
  // Sealed frames from the inner transport; sized to the caller's batch.
  std::unique_ptr<FrameBatch> inbound_;
  std::atomic<bool> closed_{false};
  Counters counters_;  // rx and this layer's drops; tx comes from inner_
  // Hellos the inner transport took: not frames of the caller's, so
  // counters() leaves them out of tx.
  std::atomic<uint64_t> hellos_sent_{0};

  // Rate limit of the authentication-failure warning (per transport: each
  // end says once that its peers' keys differ).
  absl::Time auth_logged_at_ = absl::InfinitePast();
  uint64_t auth_failures_unlogged_ = 0;
};

}  // namespace fstun

#endif  // FSTUN_SEAL_SEALED_TRANSPORT_H_
