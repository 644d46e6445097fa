// IdentityLayer (identity_layer.h). Theory of operation: Send seals each
// frame for the named key and passes the sealed messages to the link peer
// bound to that key; Receive pulls a batch of messages from one link peer,
// opens them one by one straight into the caller's slots, and returns the
// frames of one authenticated peer; a frame of another peer found in the
// same inner batch is kept (opened once: the replay window has seen it) and
// returned first by the next call. Handshake replies, keepalives and frames
// released by a completed handshake leave through Flush after every call.
#include "identity/identity_layer.h"

#include <algorithm>
#include <cstring>

#include "glog/logging.h"
#include "identity/messages.h"
#include "vnet/header.h"

namespace fstun {
namespace {

bool Overlap(const IpPrefix& a, const IpPrefix& b) {
  if (a.address.family != b.address.family) return false;
  return a.length <= b.length ? a.Contains(b.address) : b.Contains(a.address);
}

}  // namespace

IdentityLayer::IdentityLayer(std::unique_ptr<PeerCrypto> crypto, PeerLink* inner,
                             std::function<absl::Time()> clock)
    : crypto_(std::move(crypto)),
      inner_(inner),
      clock_(clock ? std::move(clock) : std::function<absl::Time()>([] { return absl::Now(); })),
      deliver_vnet_(crypto_->peer_count(), false),
      bound_(crypto_->peer_count()) {
  for (size_t i = 0; i < crypto_->peer_count(); ++i) {
    by_id_[crypto_->peer_config(i).public_key.ToBase64()] = i;
  }
}

std::vector<LinkPeer> IdentityLayer::peers() const {
  std::vector<LinkPeer> out;
  for (size_t i = 0; i < crypto_->peer_count(); ++i) {
    const PeerConfig& c = crypto_->peer_config(i);
    out.push_back({c.public_key.ToBase64(), c.allowed});
  }
  return out;
}

void IdentityLayer::SetDeliverVnet(const std::string& key, bool vnet) {
  if (auto it = by_id_.find(key); it != by_id_.end()) deliver_vnet_[it->second] = vnet;
}

std::vector<std::string> IdentityLayer::LinkPeersForKey(const std::string& key) const {
  auto it = by_id_.find(key);
  if (it == by_id_.end()) return {};
  return LinkPeersFor(it->second);
}

size_t IdentityLayer::Adapt(size_t peer, bool vnet, absl::Span<uint8_t> slot, size_t size) {
  if (vnet == deliver_vnet_[peer]) return size;
  if (!vnet) {
    // A plain packet for a caller that wants kVnet: an empty header in front.
    if (size + kVirtioNetHdrSize > slot.size()) {
      counters_.AddDrop("oversize");
      return 0;
    }
    std::memmove(slot.data() + kVirtioNetHdrSize, slot.data(), size);
    std::memset(slot.data(), 0, kVirtioNetHdrSize);
    return size + kVirtioNetHdrSize;
  }
  // kVnet for a caller that wants plain packets: only a header with nothing
  // left to do can go.
  std::optional<VirtioNetHeader> h = ParseVirtioNetHeader(FrameView(slot.data(), size));
  if (!h || size <= kVirtioNetHdrSize || (h->gso_type & ~kVirtioGsoEcn) != kVirtioGsoNone ||
      (h->flags & kVirtioNeedsChecksum) != 0) {
    counters_.AddDrop("offload_mismatch");
    return 0;
  }
  std::memmove(slot.data(), slot.data() + kVirtioNetHdrSize, size - kVirtioNetHdrSize);
  return size - kVirtioNetHdrSize;
}

std::string IdentityLayer::LinkOf(const std::string& key) const {
  auto it = by_id_.find(key);
  return it == by_id_.end() ? "" : bound_[it->second];
}

std::vector<std::string> IdentityLayer::LinkPeersFor(size_t peer) const {
  if (!bound_[peer].empty()) return {bound_[peer]};
  std::vector<LinkPeer> link = inner_->peers();
  if (link.size() == 1) return {link[0].id};
  const std::vector<IpPrefix>& allowed = crypto_->peer_config(peer).allowed;
  // Link peers whose own (announced) address the key may use; among
  // several, the ones that announced the server role (a client's key for
  // its server is 0.0.0.0/0, which holds every peer's address).
  std::vector<std::string> holding, servers;
  for (const LinkPeer& l : link) {
    bool match = false;
    for (const IpPrefix& a : l.prefixes) {
      for (const IpPrefix& b : allowed) match = match || b.Contains(a.address);
    }
    if (!match) continue;
    holding.push_back(l.id);
    if (l.is_server) servers.push_back(l.id);
  }
  if (holding.size() > 1 && !servers.empty()) return servers;
  if (!holding.empty()) return holding;
  std::vector<std::string> out;
  for (const LinkPeer& l : link) {
    bool match = false;
    for (const IpPrefix& a : l.prefixes) {
      for (const IpPrefix& b : allowed) match = match || Overlap(a, b);
    }
    if (match) out.push_back(l.id);
  }
  if (!out.empty()) return out;
  for (const LinkPeer& l : link) out.push_back(l.id);
  return out;
}

absl::StatusOr<size_t> IdentityLayer::Send(const std::string& to,
                                           absl::Span<const FrameView> frames, bool vnet) {
  auto it = by_id_.find(to);
  if (it == by_id_.end()) {
    counters_.AddDrop("no_peer", frames.size());
    return frames.size();
  }
  const size_t peer = it->second;
  const absl::Time now = clock_();
  if (outbound_ == nullptr) {
    outbound_ = std::make_unique<FrameBatch>(64, kMaxFrameSize + kDataOverhead);
  }
  // Seal into one batch, then hand the batch to the link peer(s) at once.
  auto send_batch = [&]() -> absl::Status {
    if (outbound_->empty()) return absl::OkStatus();
    std::vector<std::string> links = LinkPeersFor(peer);
    if (links.empty()) counters_.AddDrop("no_link", outbound_->size());
    for (const std::string& l : links) {
      absl::StatusOr<size_t> sent = inner_->Send(l, outbound_->frames());
      if (!sent.ok()) return sent.status();
      if (*sent < outbound_->size()) counters_.AddDrop("link_full", outbound_->size() - *sent);
    }
    outbound_->Clear();
    return absl::OkStatus();
  };
  for (FrameView f : frames) {
    if (outbound_->full()) {
      if (absl::Status s = send_batch(); !s.ok()) return s;
    }
    size_t n = crypto_->Seal(peer, f, outbound_->NextSlot(), now, vnet);
    if (n > 0) outbound_->CommitNext(n);  // else queued for a handshake, or dropped and counted
  }
  if (absl::Status s = send_batch(); !s.ok()) return s;
  Flush();
  return frames.size();
}

void IdentityLayer::Flush() {
  std::vector<PeerCrypto::Outgoing> out = crypto_->TakeOutgoing();
  if (out.empty() && unlinked_.empty()) return;
  const absl::Time now = clock_();
  // Messages that found no link peer earlier go first, if still fresh.
  std::vector<Unlinked> waiting;
  waiting.swap(unlinked_);
  for (Unlinked& u : waiting) {
    if (now - u.since > kUnlinkedTtl) {
      counters_.AddDrop("no_link");
      continue;
    }
    if (LinkPeersFor(u.message.peer).empty()) {
      unlinked_.push_back(std::move(u));
      continue;
    }
    out.insert(out.begin(), std::move(u.message));
  }
  for (PeerCrypto::Outgoing& o : out) {
    std::vector<std::string> links = LinkPeersFor(o.peer);
    if (links.empty()) {
      // The transport knows no peer yet (it is still discovering them, as
      // fs does in its first scans): keep the message for a while rather
      // than lose a handshake until its retry.
      if (unlinked_.size() < kMaxUnlinked) {
        unlinked_.push_back({std::move(o), now});
      } else {
        counters_.AddDrop("no_link");
      }
      continue;
    }
    FrameView m(o.bytes.data(), o.bytes.size());
    for (const std::string& l : links) {
      absl::StatusOr<size_t> sent = inner_->Send(l, absl::MakeConstSpan(&m, 1));
      if (!sent.ok() || *sent == 0) counters_.AddDrop("link_full");
    }
  }
}

void IdentityLayer::Tick() {
  crypto_->Tick(clock_());
  Flush();
}

absl::StatusOr<PeerLink::Received> IdentityLayer::Receive(FrameBatch& batch) {
  const absl::Time now = clock_();
  crypto_->Tick(now);
  Received out;
  std::optional<size_t> group;
  // A frame of another peer left over from the last call goes first.
  if (has_opened_ && !batch.full()) {
    absl::Span<uint8_t> slot = batch.NextSlot();
    if (opened_.size() <= slot.size()) {
      group = opened_peer_;
      std::memcpy(slot.data(), opened_.data(), opened_.size());
      batch.CommitNext(opened_.size());
      ++out.frames;
    } else {
      counters_.AddDrop("oversize");
    }
    has_opened_ = false;
  }
  for (int round = 0; round < 16 && !batch.full() && !has_opened_; ++round) {
    if (inbound_ == nullptr || inbound_next_ >= inbound_->size()) {
      // Sized to the caller's batch (reallocated when that changes, here
      // where none of its frames is left), so one call can take as many
      // frames from below as the caller has room for.
      const size_t slot =
          std::min(kMaxFrameSize + kDataOverhead, batch.frame_capacity() + kDataOverhead);
      if (inbound_ == nullptr || inbound_->capacity() != batch.capacity() ||
          inbound_->frame_capacity() < slot) {
        inbound_ = std::make_unique<FrameBatch>(batch.capacity(), slot);
      }
      inbound_->Clear();
      inbound_next_ = 0;
      absl::StatusOr<Received> r = inner_->Receive(*inbound_);
      if (!r.ok()) return r.status();
      if (r->frames == 0) break;
      inbound_from_ = r->from;
    }
    while (inbound_next_ < inbound_->size() && !batch.full()) {
      FrameView m = (*inbound_)[inbound_next_++];
      absl::Span<uint8_t> slot = batch.NextSlot();
      PeerCrypto::Opened o = crypto_->Open(m, slot, now);
      if (o.authentic && bound_[o.peer] != inbound_from_) {
        bound_[o.peer] = inbound_from_;
        ++binding_changes_;
      }
      if (!o.deliver) continue;
      o.size = Adapt(o.peer, o.vnet, slot, o.size);
      if (o.size == 0) continue;
      if (group && *group != o.peer) {
        // Another peer's frame: keep it for the next call.
        opened_.assign(slot.begin(), slot.begin() + o.size);
        opened_peer_ = o.peer;
        has_opened_ = true;
        break;
      }
      group = o.peer;
      batch.CommitNext(o.size);
      ++out.frames;
    }
    if (out.frames > 0) break;
  }
  Flush();
  if (group) out.from = crypto_->peer_config(*group).public_key.ToBase64();
  return out;
}

CounterSnapshot IdentityLayer::counters() const {
  CounterSnapshot s = crypto_->counters();
  CounterSnapshot mine = counters_.Snapshot();
  for (const auto& [k, v] : mine.drops) s.drops[k] += v;
  return s;
}

}  // namespace fstun
