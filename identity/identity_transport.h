// IdentityTransport: per-peer identity (issue 12) as a Transport decorator,
// so that any transport (memory, loopback, fs, stream, ...) carries frames
// sealed per peer with keys from a Noise IKpsk2 handshake, as WireGuard does.
//
// The peers it reports to the core's routing table are the configured
// public keys (base64), each with its allowed prefixes; the daemon also
// calls RoutingTable::ConfigurePeer(pubkey, allowed), so the table routes
// by those prefixes and drops frames whose inner source lies outside them
// (cryptokey routing). Below, the inner transport's own peers (fs peer ids,
// a stream's far end) are only where sealed messages go:
//
//   routing table --Send(pubkey, frames)--> IdentityTransport
//                 <--{frames, from=pubkey}--    | IdentityLayer: seals per
//                                               | key, opens, handshakes
//   inner transport <--Send(inner id, messages)--+  (its peers: InnerLink)
//
//   TransportConfig inner_config = IdentityInnerConfig(config);
//   auto inner = TransportRegistry::Global().Create("fs", inner_config);
//   auto crypto = PeerCrypto::Create(std::move(private_key), psk, {.peers = peers});
//   auto t = IdentityTransport::Create(*std::move(inner), *std::move(crypto),
//                                      {.mtu = config.mtu});
//
// Frames: when the inner transport carries GSO super-packets, so does this
// one. A key's peer takes them (PeerInfo::takes_vnet) when the inner peer
// its messages go to announced so (the fs transport's offload flag); it is
// reported again whenever that inner peer changes. Each sealed message says
// whether its frame has a virtio-net header, and Receive hands the core
// each frame in the format it expects for that key (identity_layer.h), so
// the two ends never have to switch at the same moment.
//
// Threads: as Transport; counters(), peers() and Close() from any thread.
#ifndef FSTUN_IDENTITY_IDENTITY_TRANSPORT_H_
#define FSTUN_IDENTITY_IDENTITY_TRANSPORT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/registry.h"
#include "core/transport.h"
#include "identity/identity_layer.h"
#include "identity/keys.h"
#include "identity/peer_crypto.h"

namespace fstun {

struct IdentityTransportOptions {
  // The tunnel MTU: the largest plaintext frame Send accepts.
  size_t mtu = 1500;
  // Tests: the clock of the handshake timers; absl::Now by default.
  std::function<absl::Time()> clock;
};

// `config` with the MTU raised by kDataOverhead and without GSO frames: the
// configuration to create the inner transport with.
TransportConfig IdentityInnerConfig(const TransportConfig& config);

class IdentityTransport : public Transport {
 public:
  // InvalidArgument if the inner transport cannot carry sealed frames of
  // options.mtu (its mtu() is below options.mtu + kDataOverhead).
  static absl::StatusOr<std::unique_ptr<IdentityTransport>> Create(
      std::unique_ptr<Transport> inner, std::unique_ptr<PeerCrypto> crypto,
      IdentityTransportOptions options);
  ~IdentityTransport() override;

  // `to` is a configured public key (base64); others: dropped, "no_peer".
  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  // Frames of one authenticated peer; `from` is its public key (base64).
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  // Reports every configured peer up: id = public key, prefixes = allowed.
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<WaitFd, 2> wait_fds() const override { return inner_->wait_fds(); }
  TransportCapabilities capabilities() const override { return {carries_gso_}; }
  // The inner transport's, or sooner when the handshake timers (retries,
  // keepalives, expiry: PeerCrypto::NextTimer) are due: they run in
  // Receive. An idle tunnel with nothing pending adds no wake-up.
  absl::Duration poll_interval() const override;
  size_t mtu() const override { return mtu_; }
  // The inner transport's; the handshake needs getrandom (the core's list).
  SyscallNeeds syscalls() const override { return inner_->syscalls(); }
  // tx/rx: data frames sealed/opened (plaintext bytes); drops: the inner
  // transport's and this layer's (unknown_peer, source_not_allowed, ...).
  CounterSnapshot counters() const override;
  // One per configured peer: id = public key, addresses = allowed
  // prefixes, details = PeerDetails (latest handshake, ...) and the inner
  // peer its messages last came from ("endpoint").
  std::vector<PeerStatus> peers() const override;
  void Close() override;

  const PublicKey& public_key() const { return layer_->crypto().public_key(); }

 private:
  // The inner transport as the layer's PeerLink, and its peers as it
  // reports them.
  class InnerLink : public PeerLink, public PeerObserver {
   public:
    explicit InnerLink(Transport* inner) : inner_(inner) {}
    absl::StatusOr<size_t> Send(const std::string& to, absl::Span<const FrameView> frames) override;
    absl::StatusOr<PeerLink::Received> Receive(FrameBatch& batch) override;
    std::vector<LinkPeer> peers() const override { return peers_; }
    void PeerUp(const PeerInfo& peer) override;
    void PeerDown(const PeerId& id) override;
    // What the inner transport reported about peer `id` (nullptr: nothing).
    const PeerInfo* Find(const std::string& id) const;
    // Set by every report; cleared by the owner once it acted on them.
    bool changed = false;

   private:
    Transport* const inner_;
    std::vector<LinkPeer> peers_;  // in order of first report
    std::vector<PeerInfo> infos_;  // the same order
  };

  // What the core should know of configured key `key`.
  PeerInfo KeyInfo(const LinkPeer& key) const;
  // Reports keys whose facts changed (all with `all`) to the observer.
  void Refresh(bool all);

  IdentityTransport(std::unique_ptr<Transport> inner, std::unique_ptr<PeerCrypto> crypto,
                    IdentityTransportOptions options);

  const std::unique_ptr<Transport> inner_;
  const size_t mtu_;
  const bool carries_gso_;
  PeerObserver* observer_ = nullptr;
  std::vector<PeerInfo> reported_;  // per configured key, as last reported
  uint64_t binding_changes_seen_ = 0;
  InnerLink link_;
  std::unique_ptr<IdentityLayer> layer_;
  const std::function<absl::Time()> clock_;
  std::atomic<bool> closed_{false};
  Counters counters_;  // this decorator's own drops (oversize, empty)

  mutable absl::Mutex mu_;
  // Per configured public key: the inner peer its frames last came from.
  absl::flat_hash_map<std::string, std::string> endpoints_ ABSL_GUARDED_BY(mu_);
};

// Creates transport `name` from `registry` (with IdentityInnerConfig) and
// wraps it: this end's `key`, the `peers` it accepts, and the optional
// preshared key `psk` (32 bytes, or empty); this end seals with `cipher`.
absl::StatusOr<std::unique_ptr<Transport>> CreateIdentityTransport(
    const TransportRegistry& registry, absl::string_view name, const TransportConfig& config,
    PrivateKey key, std::vector<PeerConfig> peers, absl::Span<const uint8_t> psk,
    aead::Cipher cipher = aead::AutoCipher());

}  // namespace fstun

#endif  // FSTUN_IDENTITY_IDENTITY_TRANSPORT_H_
