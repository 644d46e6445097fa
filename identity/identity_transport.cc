// IdentityTransport (identity_transport.h). Theory of operation: the inner
// transport reports its peers to InnerLink from the start (they are where
// the layer sends handshake and data messages); the core sees only the
// configured keys. Send drops what no peer could take (empty, larger than
// the tunnel MTU) and hands each run of good frames to the IdentityLayer,
// which seals them for the key (or queues them behind a handshake) and
// sends to the inner peer bound to that key. Receive returns the layer's
// frames of one authenticated key and records which inner peer carried
// them, for status. Handshake timers run in every Receive; poll_interval
// asks for the next Receive no later than the layer's next timer
// (PeerCrypto::NextTimer: a retry, a keepalive, an expiry, seconds apart),
// or within kUnlinkedRetry while handshake messages wait for a link peer,
// and otherwise adds no wake-up to the inner transport's.
#include "identity/identity_transport.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/send_checks.h"
#include "glog/logging.h"
#include "identity/identity_flags.h"
#include "identity/messages.h"

namespace fstun {
namespace {

// While handshake messages wait for a link peer (IdentityLayer::has_unlinked).
constexpr absl::Duration kUnlinkedRetry = absl::Seconds(1);
// A timer already due (Receive runs it and moves it on) is asked for this
// soon rather than at once, so a deadline that did not move cannot spin.
constexpr absl::Duration kMinTimerWait = absl::Milliseconds(10);

}  // namespace

TransportConfig IdentityInnerConfig(const TransportConfig& config) {
  TransportConfig inner = config;
  inner.mtu = config.mtu + kDataOverhead;
  return inner;
}

absl::StatusOr<size_t> IdentityTransport::InnerLink::Send(const std::string& to,
                                                          absl::Span<const FrameView> frames) {
  return inner_->Send(to, frames);
}

absl::StatusOr<PeerLink::Received> IdentityTransport::InnerLink::Receive(FrameBatch& batch) {
  absl::StatusOr<Transport::Received> r = inner_->Receive(batch);
  if (!r.ok()) return r.status();
  return PeerLink::Received{r->frames, r->from};
}

void IdentityTransport::InnerLink::PeerUp(const PeerInfo& peer) {
  changed = true;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i].id == peer.id) {
      peers_[i] = {peer.id, peer.prefixes, peer.is_server};
      infos_[i] = peer;
      return;
    }
  }
  peers_.push_back({peer.id, peer.prefixes, peer.is_server});
  infos_.push_back(peer);
}

void IdentityTransport::InnerLink::PeerDown(const PeerId& id) {
  changed = true;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i].id == id) {
      peers_.erase(peers_.begin() + i);
      infos_.erase(infos_.begin() + i);
      return;
    }
  }
}

const PeerInfo* IdentityTransport::InnerLink::Find(const std::string& id) const {
  for (const PeerInfo& p : infos_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<IdentityTransport>> IdentityTransport::Create(
    std::unique_ptr<Transport> inner, std::unique_ptr<PeerCrypto> crypto,
    IdentityTransportOptions options) {
  if (inner == nullptr) return absl::InvalidArgumentError("identity: no inner transport");
  if (crypto == nullptr) return absl::InvalidArgumentError("identity: no keys");
  if (options.mtu == 0) return absl::InvalidArgumentError("identity: MTU must be positive");
  if (inner->mtu() < options.mtu + kDataOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity: the inner transport carries frames of at most ", inner->mtu(),
                     " bytes, but sealed frames of MTU ", options.mtu, " need ",
                     options.mtu + kDataOverhead, " (create it with IdentityInnerConfig)"));
  }
  return std::unique_ptr<IdentityTransport>(
      new IdentityTransport(std::move(inner), std::move(crypto), std::move(options)));
}

IdentityTransport::IdentityTransport(std::unique_ptr<Transport> inner,
                                     std::unique_ptr<PeerCrypto> crypto,
                                     IdentityTransportOptions options)
    : inner_(std::move(inner)),
      mtu_(options.mtu),
      carries_gso_(inner_->capabilities().carries_gso_frames),
      link_(inner_.get()),
      clock_(options.clock ? std::move(options.clock)
                           : std::function<absl::Time()>([] { return absl::Now(); })) {
  layer_ = std::make_unique<IdentityLayer>(std::move(crypto), &link_, clock_);
  // The inner peers are the layer's business, known from the start.
  inner_->SetPeerObserver(&link_);
  LOG(INFO) << "per-peer identity: this end's public key is "
            << layer_->crypto().public_key().ToBase64() << ", " << layer_->crypto().peer_count()
            << " peer(s) configured";
}

IdentityTransport::~IdentityTransport() = default;

void IdentityTransport::SetPeerObserver(PeerObserver* observer) {
  observer_ = observer;
  Refresh(/*all=*/true);
}

PeerInfo IdentityTransport::KeyInfo(const LinkPeer& key) const {
  PeerInfo info;
  info.id = key.id;
  info.prefixes = key.prefixes;
  info.mtu = mtu_;
  // Super-packets only to a key whose one inner peer takes them.
  std::vector<std::string> links = layer_->LinkPeersForKey(key.id);
  if (carries_gso_ && links.size() == 1) {
    const PeerInfo* inner = link_.Find(links[0]);
    info.takes_vnet = inner != nullptr && inner->takes_vnet;
  }
  return info;
}

void IdentityTransport::Refresh(bool all) {
  if (observer_ == nullptr) return;
  link_.changed = false;
  binding_changes_seen_ = layer_->binding_changes();
  std::vector<LinkPeer> keys = layer_->peers();
  reported_.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    PeerInfo info = KeyInfo(keys[i]);
    const PeerInfo& old = reported_[i];
    if (!all && info.takes_vnet == old.takes_vnet && info.mtu == old.mtu) continue;
    layer_->SetDeliverVnet(info.id, info.takes_vnet);
    observer_->PeerUp(info);
    if (info.takes_vnet != old.takes_vnet && !all) {
      VLOG(1) << "peer " << info.id.substr(0, 8)
              << "...: " << (info.takes_vnet ? "takes offloaded frames" : "takes plain packets");
    }
    reported_[i] = std::move(info);
  }
}

absl::Duration IdentityTransport::poll_interval() const {
  absl::Duration d = inner_->poll_interval();
  if (layer_->has_unlinked()) d = std::min(d, kUnlinkedRetry);
  const absl::Time next = layer_->NextTimer();
  if (next != absl::InfiniteFuture()) d = std::min(d, std::max(next - clock_(), kMinTimerWait));
  return d;
}

absl::StatusOr<size_t> IdentityTransport::Send(const PeerId& to,
                                               absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  // The core sends `to` super-packets (kVnet) exactly when it was told the
  // key takes them.
  bool vnet = false;
  for (const PeerInfo& r : reported_) {
    if (r.id == to) vnet = r.takes_vnet;
  }
  const size_t max = carries_gso_ ? kMaxFrameSize - kDataOverhead : mtu_;
  // Runs of frames the peer can take go to the layer; the others are
  // dropped and counted here, keeping the order of the rest.
  size_t start = 0;
  for (size_t i = 0; i <= frames.size(); ++i) {
    const bool bad = i < frames.size() && (frames[i].empty() || frames[i].size() > max);
    if (i < frames.size() && !bad) continue;
    if (i > start) {
      absl::StatusOr<size_t> n = layer_->Send(to, frames.subspan(start, i - start), vnet);
      if (!n.ok()) return n.status();
    }
    if (bad) counters_.AddDrop(frames[i].empty() ? kDropEmpty : kDropOversize);
    start = i + 1;
  }
  if (link_.changed) Refresh(/*all=*/false);
  return frames.size();
}

absl::StatusOr<Transport::Received> IdentityTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  // Inner peers came or went, or a key moved to another inner peer (in an
  // earlier call): the frames it takes may have changed. Reported before
  // this call's frames are opened, so that they are adapted to what the
  // core then expects of their key.
  if (link_.changed || layer_->binding_changes() != binding_changes_seen_) {
    Refresh(/*all=*/false);
  }
  absl::StatusOr<PeerLink::Received> r = layer_->Receive(batch);
  if (!r.ok()) return r.status();
  if (r->frames == 0) return Received{};
  const std::string endpoint = layer_->LinkOf(r->from);
  {
    absl::MutexLock lock(&mu_);
    std::string& e = endpoints_[r->from];
    if (e != endpoint) e = endpoint;
  }
  return Received{r->frames, r->from};
}

CounterSnapshot IdentityTransport::counters() const {
  CounterSnapshot out = layer_->counters();
  CounterSnapshot inner = inner_->counters();
  for (const auto& [reason, n] : inner.drops) out.drops[reason] += n;
  for (const auto& [reason, n] : counters_.Snapshot().drops) out.drops[reason] += n;
  return out;
}

std::vector<PeerStatus> IdentityTransport::peers() const {
  const absl::Time now = clock_();
  std::vector<PeerStatus> out;
  for (const PeerCrypto::PeerInfo& info : layer_->Status()) {
    PeerStatus s;
    s.id = info.public_key.ToBase64();
    for (const IpPrefix& p : info.allowed) s.addresses.push_back(p.ToString());
    s.last_seen = info.last_received;
    s.counters = info.counters;
    s.details = PeerDetails(info, now);
    {
      absl::MutexLock lock(&mu_);
      auto it = endpoints_.find(s.id);
      s.details.push_back({"endpoint", it == endpoints_.end() ? "none yet" : it->second});
    }
    out.push_back(std::move(s));
  }
  return out;
}

void IdentityTransport::Close() {
  closed_.store(true);
  inner_->Close();
}

absl::StatusOr<std::unique_ptr<Transport>> CreateIdentityTransport(
    const TransportRegistry& registry, absl::string_view name, const TransportConfig& config,
    PrivateKey key, std::vector<PeerConfig> peers, absl::Span<const uint8_t> psk,
    aead::Cipher cipher) {
  PeerCryptoOptions crypto_options;
  crypto_options.peers = std::move(peers);
  crypto_options.cipher = cipher;
  absl::StatusOr<std::unique_ptr<PeerCrypto>> crypto =
      PeerCrypto::Create(std::move(key), psk, std::move(crypto_options));
  if (!crypto.ok()) return crypto.status();
  absl::StatusOr<std::unique_ptr<Transport>> inner =
      registry.Create(name, IdentityInnerConfig(config));
  if (!inner.ok()) return inner.status();
  IdentityTransportOptions options;
  options.mtu = config.mtu;
  absl::StatusOr<std::unique_ptr<IdentityTransport>> t =
      IdentityTransport::Create(*std::move(inner), *std::move(crypto), std::move(options));
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(*std::move(t));
}

}  // namespace fstun
