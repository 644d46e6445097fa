#include "seal/sealed_transport.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/send_checks.h"
#include "glog/logging.h"

namespace fstun {
namespace {

// Sealed frames handed to the inner transport per Send call.
constexpr size_t kOutboundFrames = 64;
constexpr absl::Duration kAuthLogInterval = absl::Minutes(5);
// Hellos answer refused frames; a burst of them needs only one answer.
constexpr absl::Duration kHelloInterval = absl::Milliseconds(100);

}  // namespace

TransportConfig SealedInnerConfig(const TransportConfig& config) {
  TransportConfig inner = config;
  inner.mtu = config.mtu + kSealOverhead;
  return inner;
}

uint32_t SenderIdFor(const std::vector<IpPrefix>& addresses) {
  auto from = [](const uint8_t* b) {
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  };
  for (const IpPrefix& p : addresses) {
    if (p.address.is_v4()) return from(p.address.bytes.data());
  }
  for (const IpPrefix& p : addresses) {
    if (p.address.is_v6()) return from(p.address.bytes.data() + 12);
  }
  InitSodium();
  return randombytes_random();
}

absl::StatusOr<std::unique_ptr<SealedTransport>> SealedTransport::Create(
    std::unique_ptr<Transport> inner, Key key, const SealedTransportOptions& options) {
  if (inner == nullptr) return absl::InvalidArgumentError("sealing: no inner transport");
  if (options.mtu == 0) return absl::InvalidArgumentError("sealing: MTU must be positive");
  if (inner->mtu() < options.mtu + kSealOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("sealing: the inner transport carries frames of at most ", inner->mtu(),
                     " bytes, but sealed frames of MTU ", options.mtu, " need ",
                     options.mtu + kSealOverhead, " (create it with SealedInnerConfig)"));
  }
  uint64_t session = options.session != 0 ? options.session : NewSessionId();
  return std::unique_ptr<SealedTransport>(new SealedTransport(
      std::move(inner), std::make_unique<Key>(std::move(key)), options, session));
}

SealedTransport::SealedTransport(std::unique_ptr<Transport> inner, std::unique_ptr<Key> key,
                                 const SealedTransportOptions& options, uint64_t session)
    : inner_(std::move(inner)),
      key_(std::move(key)),
      mtu_(options.mtu),
      max_plain_(inner_->capabilities().carries_gso_frames ? kMaxFrameSize - kSealOverhead
                                                           : options.mtu),
      sealer_(*key_, options.sender_id, session, options.cipher),
      opener_(*key_, session),
      outbound_(kOutboundFrames, max_plain_ + kSealOverhead) {
  origin_.reserve(kOutboundFrames);
  LOG(INFO) << "sealing frames as sender " << SenderIdToString(options.sender_id) << ", session "
            << absl::StrCat(absl::Hex(session, absl::kZeroPad16));
}

void SealedTransport::SetPeerObserver(PeerObserver* observer) {
  observer_ = observer;
  inner_->SetPeerObserver(this);
}

void SealedTransport::PeerUp(const PeerInfo& peer) {
  if (observer_ == nullptr) return;
  PeerInfo plain = peer;
  // The peer takes sealed frames of peer.mtu: plaintext of 40 bytes less.
  if (plain.mtu > 0) plain.mtu = plain.mtu > kSealOverhead ? plain.mtu - kSealOverhead : 1;
  observer_->PeerUp(plain);
}

void SealedTransport::PeerDown(const PeerId& id) {
  peer_seal_.erase(id);
  if (observer_ != nullptr) observer_->PeerDown(id);
}

void SealedTransport::SendHello(const PeerId& to, PeerSeal& peer, bool now_anyway) {
  absl::Time now = absl::Now();
  if (!now_anyway && now - peer.hello_sent_at < kHelloInterval) return;
  peer.hello_sent_at = now;
  peer.hello_due = false;
  sealer_.set_echo(peer.echo);
  uint8_t hello[kSealOverhead];
  size_t n = sealer_.SealHello(absl::MakeSpan(hello));
  if (n == 0) return;
  uint64_t before = inner_->counters().tx_frames;
  FrameView view(hello, n);
  // A hello the inner transport cannot take now is not worth an error: the
  // next refused frame asks for another.
  inner_->Send(to, absl::MakeConstSpan(&view, 1)).IgnoreError();
  hellos_sent_.fetch_add(inner_->counters().tx_frames - before, std::memory_order_relaxed);
}

absl::StatusOr<size_t> SealedTransport::Send(const PeerId& to, absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  PeerSeal& peer = peer_seal_[to];
  if (peer.hello_due) SendHello(to, peer, /*now_anyway=*/true);
  // Sealed frames echo what this end knows of `to`'s session.
  sealer_.set_echo(peer.echo);
  size_t i = 0;
  while (i < frames.size()) {
    outbound_.Clear();
    origin_.clear();
    for (; i < frames.size() && !outbound_.full(); ++i) {
      FrameView frame = frames[i];
      if (frame.empty()) {
        counters_.AddDrop(kDropEmpty);
        continue;
      }
      if (frame.size() > max_plain_) {
        counters_.AddDrop(kDropOversize);
        continue;
      }
      size_t sealed = sealer_.Seal(frame, outbound_.NextSlot());
      if (sealed == 0) {
        // Only after 2^64 frames of one session: refuse rather than reuse a nonce.
        counters_.AddDrop("sequence_exhausted");
        continue;
      }
      outbound_.CommitNext(sealed);
      origin_.push_back(i);
    }
    if (outbound_.empty()) continue;
    absl::StatusOr<size_t> n = inner_->Send(to, outbound_.frames());
    if (!n.ok()) return n.status();
    // Backpressure: the frames from the first one the inner transport did
    // not take are offered again later (sealed anew, with new sequence numbers).
    if (*n < outbound_.size()) return origin_[*n];
  }
  return frames.size();
}

absl::StatusOr<Transport::Received> SealedTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  if (batch.full()) return Received{};
  // The inner transport fills a batch of our own with sealed frames. It has
  // the caller's capacity and starts with as many empty placeholder frames
  // as the caller's batch already holds, so the inner transport hands over
  // at most as many frames as the caller has room for and none is left
  // over. It is reallocated only when a caller's capacity changes.
  if (inbound_ == nullptr || inbound_->capacity() != batch.capacity()) {
    inbound_ = std::make_unique<FrameBatch>(batch.capacity(), max_plain_ + kSealOverhead);
  }
  inbound_->Clear();
  const size_t first = batch.size();
  for (size_t i = 0; i < first; ++i) inbound_->CommitNext(0);
  absl::StatusOr<Received> got = inner_->Receive(*inbound_);
  if (!got.ok()) return got.status();
  if (got->frames == 0) return Received{};
  // Everything in this call came from one peer: what the frames teach
  // (its session, that it wants a hello) is about that peer only.
  PeerSeal& peer = peer_seal_[got->from];
  size_t delivered = 0;
  uint64_t bytes = 0;
  for (size_t i = first; i < inbound_->size(); ++i) {
    FrameOpener::Result r = opener_.Open((*inbound_)[i], batch.NextSlot());
    if (r.learned != 0) peer.echo = r.learned;
    if (r.new_session && r.error != FrameOpener::Error::kWrongSession) {
      NoteNewSession(r.sender_id);
    }
    if (r.wants_hello) SendHello(got->from, peer, /*now_anyway=*/false);
    if (r.error != FrameOpener::Error::kOk) {
      counters_.AddDrop(FrameOpener::DropReason(r.error));
      if (r.error == FrameOpener::Error::kAuthFailed) NoteAuthFailure(r.sender_id);
      continue;
    }
    if (r.hello) continue;  // control only: nothing to deliver
    batch.CommitNext(r.size);
    ++delivered;
    bytes += r.size;
  }
  counters_.AddRx(delivered, bytes);
  return Received{delivered, got->from};
}

void SealedTransport::NoteAuthFailure(uint32_t sender_id) {
  absl::Time now = absl::Now();
  if (now - auth_logged_at_ < kAuthLogInterval) {
    ++auth_failures_unlogged_;
    return;
  }
  if (auth_logged_at_ == absl::InfinitePast()) {
    LOG(WARNING) << "peer " << SenderIdToString(sender_id)
                 << ": authentication failed, check --key_file (the peers' keys differ, or "
                    "someone without the key wrote frames); further failures are counted as "
                    "drops \"auth_failed\" and logged at most every 5 minutes";
  } else {
    LOG(WARNING) << "peer " << SenderIdToString(sender_id)
                 << ": authentication failed, check --key_file (" << auth_failures_unlogged_ + 1
                 << " failures since the last message)";
  }
  auth_logged_at_ = now;
  auth_failures_unlogged_ = 0;
}

void SealedTransport::NoteNewSession(uint32_t sender_id) {
  // Authentic and rare (a peer starts or restarts).
  LOG(INFO) << "peer " << SenderIdToString(sender_id) << ": new session";
}

CounterSnapshot SealedTransport::counters() const {
  CounterSnapshot inner = inner_->counters();
  CounterSnapshot own = counters_.Snapshot();
  CounterSnapshot out;
  // The two reads are not atomic together; never let a hello in flight
  // make the count wrap.
  out.tx_frames =
      inner.tx_frames - std::min(inner.tx_frames, hellos_sent_.load(std::memory_order_relaxed));
  out.tx_bytes = inner.tx_bytes - inner.tx_frames * kSealOverhead;  // hellos: 0 bytes
  out.rx_frames = own.rx_frames;
  out.rx_bytes = own.rx_bytes;
  out.drops = std::move(inner.drops);
  for (const auto& [reason, n] : own.drops) out.drops[reason] += n;
  return out;
}

void SealedTransport::Close() {
  closed_.store(true);
  inner_->Close();
}

}  // namespace fstun
