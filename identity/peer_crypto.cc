// PeerCrypto (peer_crypto.h). Theory of operation, as WireGuard's device:
//
// * Each peer has up to three sessions: `current` (used to send),
//   `previous` (still accepted while frames sealed with it are in flight),
//   and `next` (a responder's session, not used to send until the initiator
//   proves it holds the keys by sending on it: key confirmation, so a
//   replayed initiation cannot make this end send on a session nobody can
//   read). An initiator's session is confirmed by the response itself.
// * Every session and every initiation in flight has a random 32-bit local
//   index; messages name the receiver's index, which only finds the
//   candidate session. The session's key then authenticates the message, and
//   the peer it belongs to is the sender. A message naming an unknown index,
//   or failing the tag, is dropped and counted; it changes no state.
// * Initiations carry a TAI64N timestamp; a peer's initiation is accepted
//   only if its timestamp is newer than every one accepted from it before
//   (replays of recorded initiations are refused), and not sooner than
//   min_initiation_interval after the last (floods).
// * Counters are AEAD nonces; the replay window (seal/replay_window.h)
//   refuses repeats and frames too far behind.
// * Timers (Tick): an initiation unanswered for rekey_timeout is retried
//   with a new ephemeral key (the response to the one it replaces is still
//   accepted until the next retry), until rekey_attempt_time, then the frames
//   waiting for it are dropped ("handshake_timeout"). A session older than
//   rekey_after_time (initiator side) or past rekey_after_messages starts a
//   new handshake on the next send; past reject_after_time or
//   reject_after_messages it is never used again. A peer that sent data and
//   heard nothing for keepalive_timeout + rekey_timeout starts a new
//   handshake (the other end restarted); one that received data and sent
//   nothing for keepalive_timeout sends a keepalive (an empty data message).
#include "identity/peer_crypto.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "glog/logging.h"
#include "identity/messages.h"
#include "seal/aead.h"
#include "seal/key.h"
#include "vnet/header.h"

namespace fstun {

std::optional<IpAddress> FrameSource(FrameView frame) {
  if (frame.empty()) return std::nullopt;
  int version = frame[0] >> 4;
  if (version == 4 || version == 6) return PacketSource(frame);
  if (frame.size() <= kVirtioNetHdrSize) return std::nullopt;
  return PacketSource(frame.subspan(kVirtioNetHdrSize));
}

absl::StatusOr<PeerConfig> ParsePeerSpec(absl::string_view spec) {
  std::vector<absl::string_view> parts = absl::StrSplit(spec, ',');
  if (parts.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("--peer=", spec.substr(0, 60),
                                                   ": expected PUBKEY,PREFIX[,PREFIX...] (e.g. "
                                                   "--peer=xTIB...=,192.0.2.2/32)"));
  }
  PeerConfig peer;
  absl::StatusOr<PublicKey> key = PublicKey::FromBase64(absl::StripAsciiWhitespace(parts[0]));
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat("--peer: ", key.status().message()));
  peer.public_key = *key;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view text = absl::StripAsciiWhitespace(parts[i]);
    absl::StatusOr<IpPrefix> prefix = IpPrefix::Parse(text);
    if (!prefix.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--peer ", peer.public_key.ShortString(),
                                                     ": not a prefix: '", text.substr(0, 50),
                                                     "' (expected e.g. 192.0.2.2/32)"));
    }
    peer.allowed.push_back(*prefix);
  }
  return peer;
}

absl::StatusOr<std::unique_ptr<PeerCrypto>> PeerCrypto::Create(PrivateKey key,
                                                               absl::Span<const uint8_t> psk,
                                                               PeerCryptoOptions options) {
  aead::InitAead();
  if (!psk.empty() && psk.size() != 32) {
    return absl::InvalidArgumentError("the preshared key must be 32 bytes");
  }
  PublicKey mine = key.public_key();
  absl::flat_hash_set<PublicKey> seen;
  std::vector<std::pair<IpPrefix, std::string>> prefixes;
  for (const PeerConfig& p : options.peers) {
    if (p.public_key == mine) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peer ", p.public_key.ShortString(), " is this end's own public key"));
    }
    if (!seen.insert(p.public_key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peer ", p.public_key.ShortString(), " is listed twice"));
    }
    uint8_t dh[32];
    bool ok = noise::Dh(key.data(), p.public_key.data(), dh);
    sodium_memzero(dh, sizeof(dh));
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peer ", p.public_key.ShortString(), " is not a valid X25519 public key"));
    }
    for (const IpPrefix& pre : p.allowed) {
      for (const auto& [other, who] : prefixes) {
        if (other == pre) {
          return absl::InvalidArgumentError(absl::StrCat("prefix ", pre.ToString(),
                                                         " is given to two peers (", who, " and ",
                                                         p.public_key.ShortString(), ")"));
        }
      }
      prefixes.emplace_back(pre, p.public_key.ShortString());
    }
  }
  return std::unique_ptr<PeerCrypto>(new PeerCrypto(std::move(key), psk, std::move(options)));
}

PeerCrypto::PeerCrypto(PrivateKey key, absl::Span<const uint8_t> psk, PeerCryptoOptions options)
    : me_(std::move(key)),
      timing_(options.timing),
      max_queued_(options.max_queued_frames),
      cipher_(options.cipher) {
  psk_.fill(0);
  if (!psk.empty()) std::memcpy(psk_.data(), psk.data(), psk_.size());
  for (PeerConfig& c : options.peers) {
    auto p = std::make_unique<Peer>();
    p->config = std::move(c);
    by_key_[p->config.public_key] = peers_.size();
    peers_.push_back(std::move(p));
  }
}

PeerCrypto::~PeerCrypto() { sodium_memzero(psk_.data(), psk_.size()); }

const PeerConfig& PeerCrypto::peer_config(size_t peer) const { return peers_.at(peer)->config; }

std::optional<size_t> PeerCrypto::PeerFor(const IpAddress& dst) const {
  std::optional<size_t> best;
  int best_len = -1;
  for (size_t i = 0; i < peers_.size(); ++i) {
    for (const IpPrefix& pre : peers_[i]->config.allowed) {
      if (pre.address.family == dst.family && pre.length > best_len && pre.Contains(dst)) {
        best = i;
        best_len = pre.length;
      }
    }
  }
  return best;
}

uint32_t PeerCrypto::NewIndex() {
  for (;;) {
    uint32_t i = randombytes_random();
    if (i != 0 && !index_.contains(i)) return i;
  }
}

void PeerCrypto::DropSession(std::unique_ptr<Session>& s) {
  if (s == nullptr) return;
  index_.erase(s->local_index);
  s.reset();
}

bool PeerCrypto::Usable(const Session& s, absl::Time now) const {
  return s.confirmed && now - s.created < timing_.reject_after_time &&
         s.send_counter < timing_.reject_after_messages;
}

void PeerCrypto::Initiate(size_t peer, absl::Time now) {
  Peer& p = *peers_[peer];
  if (p.previous_handshake != nullptr) index_.erase(p.previous_handshake->local_index);
  p.previous_handshake = std::move(p.handshake);
  p.handshake = std::make_unique<InitiatorHandshake>();
  uint32_t index = NewIndex();
  index_[index] = IndexEntry{peer, true};
  // Strictly increasing timestamps, even if the clock stands still.
  absl::Time stamp = std::max(now, p.last_timestamp_sent + absl::Nanoseconds(1));
  p.last_timestamp_sent = stamp;
  Outgoing o{peer, std::vector<uint8_t>(kInitiationSize)};
  CreateInitiation(me_, p.config.public_key, index, Tai64nOf(stamp), p.handshake.get(),
                   o.bytes.data());
  outbox_.push_back(std::move(o));
  if (p.handshake_first_sent == absl::InfinitePast()) p.handshake_first_sent = now;
  p.handshake_sent = now;
  p.last_sent = now;
}

void PeerCrypto::MaybeInitiate(size_t peer, absl::Time now) {
  Peer& p = *peers_[peer];
  if (p.handshake != nullptr && now - p.handshake_sent < timing_.rekey_timeout) return;
  // The peer is completing a handshake with us: its confirmation is due.
  if (p.next != nullptr && now - p.next->created < timing_.rekey_timeout) return;
  Initiate(peer, now);
}

namespace {

// The AES-256-GCM key of one direction, derived from the session key.
std::unique_ptr<aead::AesGcmKey> DeriveAesKey(const noise::CipherKey& session_key) {
  return aead::AesGcmKey::Derived(session_key, "fstun aes-256-gcm");
}

// Noise's nonces: 4 zero bytes || the counter, little-endian for
// ChaChaPoly, big-endian for AESGCM.
void ChaChaNonce(uint64_t counter, uint8_t* nonce) {
  std::memset(nonce, 0, 4);
  StoreLe64(nonce + 4, counter);
}

static_assert(aead::kGcmNonceSize == aead::kNonceSize, "one nonce buffer serves both ciphers");
void GcmNonce(uint64_t counter, uint8_t* nonce) {
  std::memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (56 - 8 * i));
}

}  // namespace

size_t PeerCrypto::SealWith(Session& s, Peer& p, FrameView frame, uint8_t* out, absl::Time now,
                            bool vnet) {
  const bool aes = cipher_ == aead::Cipher::kAes256Gcm;
  out[0] = static_cast<uint8_t>(MessageType::kData);
  out[1] = static_cast<uint8_t>((vnet ? kDataFlagVnet : 0) | (aes ? kDataFlagAesGcm : 0));
  out[2] = out[3] = 0;
  StoreLe32(out + msg::kDataReceiver, s.remote_index);
  uint64_t counter = s.send_counter++;
  StoreLe64(out + msg::kDataCounter, counter);
  uint8_t nonce[aead::kNonceSize];
  absl::Span<const uint8_t> header(out, kDataHeaderSize);
  if (aes) {
    if (s.aes_send == nullptr) s.aes_send = DeriveAesKey(s.keys.send);
    GcmNonce(counter, nonce);
    s.aes_send->Seal(nonce, frame, header, out + kDataHeaderSize);
  } else {
    ChaChaNonce(counter, nonce);
    aead::ChaChaPolySeal(s.keys.send.data(), nonce, frame, header, out + kDataHeaderSize);
  }
  p.last_sent = now;
  return frame.size() + kDataOverhead;
}

size_t PeerCrypto::Seal(size_t peer, FrameView frame, absl::Span<uint8_t> out, absl::Time now,
                        bool vnet) {
  Peer& p = *peers_.at(peer);
  Session* s = p.current.get();
  if (s != nullptr && !Usable(*s, now)) {
    if (s->send_counter >= timing_.reject_after_messages) {
      counters_.AddDrop("counter_exhausted");
      p.counters.AddDrop("counter_exhausted");
      MaybeInitiate(peer, now);
      return 0;
    }
    s = nullptr;
  }
  if (s == nullptr) {
    if (p.queue.size() >= max_queued_) {
      counters_.AddDrop("queue_full");
      p.counters.AddDrop("queue_full");
    } else {
      p.queue.push_back({std::vector<uint8_t>(frame.begin(), frame.end()), vnet});
    }
    MaybeInitiate(peer, now);
    return 0;
  }
  if (out.size() < frame.size() + kDataOverhead) {
    counters_.AddDrop("oversize");
    return 0;
  }
  size_t n = SealWith(*s, p, frame, out.data(), now, vnet);
  counters_.AddTx(1, frame.size());
  p.counters.AddTx(1, frame.size());
  if (p.awaiting_reply_since == absl::InfiniteFuture()) p.awaiting_reply_since = now;
  if ((s->initiator && now - s->created >= timing_.rekey_after_time) ||
      s->send_counter >= timing_.rekey_after_messages) {
    MaybeInitiate(peer, now);
  }
  return n;
}

void PeerCrypto::SendKeepalive(size_t peer, absl::Time now) {
  Peer& p = *peers_[peer];
  if (p.current == nullptr || !Usable(*p.current, now)) return;
  Outgoing o{peer, std::vector<uint8_t>(kDataOverhead)};
  SealWith(*p.current, p, {}, o.bytes.data(), now);
  outbox_.push_back(std::move(o));
}

void PeerCrypto::FlushQueue(size_t peer, absl::Time now) {
  Peer& p = *peers_[peer];
  while (!p.queue.empty() && p.current != nullptr && Usable(*p.current, now)) {
    std::vector<uint8_t>& f = p.queue.front().bytes;
    Outgoing o{peer, std::vector<uint8_t>(f.size() + kDataOverhead)};
    SealWith(*p.current, p, f, o.bytes.data(), now, p.queue.front().vnet);
    counters_.AddTx(1, f.size());
    p.counters.AddTx(1, f.size());
    outbox_.push_back(std::move(o));
    p.queue.pop_front();
    if (p.awaiting_reply_since == absl::InfiniteFuture()) p.awaiting_reply_since = now;
  }
}

void PeerCrypto::Promote(size_t peer, std::unique_ptr<Session> s, absl::Time now) {
  Peer& p = *peers_[peer];
  DropSession(p.previous);
  p.previous = std::move(p.current);
  p.current = std::move(s);
  p.current->confirmed = true;
  p.last_handshake_ns.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
  if (!p.logged_handshake) {
    p.logged_handshake = true;
    LOG(INFO) << "peer " << p.config.public_key.ShortString() << ": handshake complete";
  } else {
    VLOG(1) << "peer " << p.config.public_key.ShortString() << ": new session";
  }
}

PeerCrypto::Opened PeerCrypto::Drop(absl::string_view reason) {
  counters_.AddDrop(reason);
  Opened r;
  r.drop = std::string(reason);
  return r;
}

PeerCrypto::Opened PeerCrypto::Open(FrameView m, absl::Span<uint8_t> out, absl::Time now) {
  std::optional<MessageType> type = ClassifyMessage(m);
  if (!type) return Drop("malformed");
  switch (*type) {
    case MessageType::kInitiation:
      return OpenInitiation(m, now);
    case MessageType::kResponse:
      return OpenResponse(m, now);
    case MessageType::kData:
      return OpenData(m, out, now);
  }
  return Drop("malformed");
}

PeerCrypto::Opened PeerCrypto::OpenInitiation(FrameView m, absl::Time now) {
  ReceivedInitiation in;
  HandshakeError err = ConsumeInitiation(me_, m, &in);
  // mac1 names another receiver: an initiation sent to several link peers
  // because the layer did not know which one holds the key (identity_layer.h).
  if (err == HandshakeError::kBadMac1) return Drop("not_for_us");
  if (err != HandshakeError::kOk) return Drop("handshake_invalid");
  auto it = by_key_.find(in.initiator);
  if (it == by_key_.end()) {
    // Authentic (it knows our public key and its own private key), but not
    // listed. Log each such key once, and at most 64 of them.
    if (unknown_logged_.size() < 64 && unknown_logged_.insert(in.initiator).second) {
      LOG(WARNING) << "handshake from unknown peer " << in.initiator.ToBase64()
                   << " refused: not in --peer (its frames are dropped as 'unknown_peer')";
    }
    return Drop("unknown_peer");
  }
  size_t peer = it->second;
  Peer& p = *peers_[peer];
  if (std::memcmp(in.timestamp.data(), p.greatest_timestamp.data(), kTimestampSize) <= 0) {
    p.counters.AddDrop("handshake_replay");
    return Drop("handshake_replay");
  }
  if (now - p.last_initiation_accepted < timing_.min_initiation_interval) {
    p.counters.AddDrop("handshake_flood");
    return Drop("handshake_flood");
  }
  auto s = std::make_unique<Session>();
  s->local_index = NewIndex();
  s->remote_index = in.sender_index;
  s->created = now;
  s->initiator = false;
  Outgoing o{peer, std::vector<uint8_t>(kResponseSize)};
  if (CreateResponse(&in, psk_, s->local_index, o.bytes.data(), &s->keys) != HandshakeError::kOk) {
    return Drop("handshake_invalid");
  }
  p.greatest_timestamp = in.timestamp;
  p.last_initiation_accepted = now;
  p.last_received_ns.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
  DropSession(p.next);
  index_[s->local_index] = IndexEntry{peer, false};
  p.next = std::move(s);
  outbox_.push_back(std::move(o));
  p.last_sent = now;
  Opened r;
  r.authentic = true;
  r.peer = peer;
  return r;
}

PeerCrypto::Opened PeerCrypto::OpenResponse(FrameView m, absl::Time now) {
  auto it = index_.find(LoadLe32(m.data() + msg::kRespReceiver));
  if (it == index_.end() || !it->second.handshake) return Drop("unknown_session");
  size_t peer = it->second.peer;
  Peer& p = *peers_[peer];
  InitiatorHandshake* hs = nullptr;
  for (InitiatorHandshake* h : {p.handshake.get(), p.previous_handshake.get()}) {
    if (h != nullptr && h->local_index == it->first) hs = h;
  }
  if (hs == nullptr) return Drop("unknown_session");
  auto s = std::make_unique<Session>();
  if (ConsumeResponse(me_, p.config.public_key, psk_, hs, m, &s->keys) != HandshakeError::kOk) {
    p.counters.AddDrop("handshake_invalid");
    return Drop("handshake_invalid");
  }
  s->local_index = hs->local_index;
  s->remote_index = LoadLe32(m.data() + msg::kRespSender);
  s->created = now;
  s->initiator = true;
  it->second.handshake = false;  // the index now names the session
  for (std::unique_ptr<InitiatorHandshake>* h : {&p.handshake, &p.previous_handshake}) {
    if (*h != nullptr && (*h)->local_index != s->local_index) index_.erase((*h)->local_index);
    h->reset();
  }
  p.handshake_first_sent = absl::InfinitePast();
  p.awaiting_reply_since = absl::InfiniteFuture();
  p.last_received_ns.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
  Promote(peer, std::move(s), now);
  // Confirm the session to the responder: queued frames, or a keepalive.
  if (p.queue.empty()) {
    SendKeepalive(peer, now);
  } else {
    FlushQueue(peer, now);
  }
  Opened r;
  r.authentic = true;
  r.peer = peer;
  return r;
}

PeerCrypto::Opened PeerCrypto::OpenData(FrameView m, absl::Span<uint8_t> out, absl::Time now) {
  auto it = index_.find(LoadLe32(m.data() + msg::kDataReceiver));
  if (it == index_.end() || it->second.handshake) return Drop("unknown_session");
  size_t peer = it->second.peer;
  Peer& p = *peers_[peer];
  uint32_t index = it->first;
  Session* s = nullptr;
  for (Session* c : {p.current.get(), p.previous.get(), p.next.get()}) {
    if (c != nullptr && c->local_index == index) s = c;
  }
  if (s == nullptr) return Drop("unknown_session");
  if (now - s->created >= timing_.reject_after_time) return Drop("expired");
  uint64_t counter = LoadLe64(m.data() + msg::kDataCounter);
  if (counter >= timing_.reject_after_messages) return Drop("counter_exhausted");
  size_t plain = m.size() - kDataOverhead;
  if (out.size() < plain) return Drop("oversize");
  const bool aes = (m[1] & kDataFlagAesGcm) != 0;
  uint8_t nonce[aead::kNonceSize];
  bool opened;
  if (aes) {
    if (s->aes_receive == nullptr) s->aes_receive = DeriveAesKey(s->keys.receive);
    GcmNonce(counter, nonce);
    opened = s->aes_receive->Open(nonce, m.subspan(kDataHeaderSize), m.subspan(0, kDataHeaderSize),
                                  out.data());
  } else {
    ChaChaNonce(counter, nonce);
    opened = aead::ChaChaPolyOpen(s->keys.receive.data(), nonce, m.subspan(kDataHeaderSize),
                                  m.subspan(0, kDataHeaderSize), out.data());
  }
  if (!opened) {
    p.counters.AddDrop("auth_failed");
    LOG_EVERY_T(WARNING, 60) << "peer " << p.config.public_key.ShortString()
                             << ": a data message failed authentication (forged or corrupted;"
                                " counted as auth_failed, this line at most once a minute)";
    return Drop("auth_failed");
  }
  switch (s->window.Accept(counter)) {
    case ReplayWindow::Verdict::kAccepted:
      break;
    case ReplayWindow::Verdict::kReplay:
      p.counters.AddDrop("replay");
      return Drop("replay");
    case ReplayWindow::Verdict::kTooOld:
      p.counters.AddDrop("too_old");
      return Drop("too_old");
  }
  // Authentic: the sender is `peer`.
  p.last_received_ns.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
  p.received_cipher.store(
      static_cast<int>(aes ? aead::Cipher::kAes256Gcm : aead::Cipher::kChaCha20Poly1305),
      std::memory_order_relaxed);
  p.awaiting_reply_since = absl::InfiniteFuture();
  if (s == p.next.get()) {
    Promote(peer, std::move(p.next), now);
    FlushQueue(peer, now);
  }
  Opened r;
  r.authentic = true;
  r.peer = peer;
  if (plain == 0) return r;  // keepalive
  const bool vnet = (m[1] & kDataFlagVnet) != 0;
  std::optional<IpAddress> src;
  if (!vnet) {
    src = FrameSource(FrameView(out.data(), plain));
  } else if (plain > kVirtioNetHdrSize) {
    src = PacketSource(FrameView(out.data() + kVirtioNetHdrSize, plain - kVirtioNetHdrSize));
  }
  bool allowed = false;
  if (src) {
    for (const IpPrefix& pre : p.config.allowed) {
      if (pre.address.family == src->family && pre.Contains(*src)) allowed = true;
    }
  }
  if (!allowed) {
    p.counters.AddDrop("source_not_allowed");
    LOG_EVERY_T(WARNING, 10) << "peer " << p.config.public_key.ShortString()
                             << ": dropped a frame from "
                             << (src ? src->ToString() : std::string("a non-IP source"))
                             << ", outside its allowed prefixes (counted as source_not_allowed, "
                                "this line at most every 10 s)";
    Opened d = Drop("source_not_allowed");
    d.authentic = true;
    d.peer = peer;
    return d;
  }
  p.last_data_received = now;
  counters_.AddRx(1, plain);
  p.counters.AddRx(1, plain);
  r.size = plain;
  r.vnet = vnet;
  r.deliver = true;
  return r;
}

void PeerCrypto::Tick(absl::Time now) {
  for (size_t i = 0; i < peers_.size(); ++i) {
    Peer& p = *peers_[i];
    if (p.handshake != nullptr && now - p.handshake_sent >= timing_.rekey_timeout) {
      if (now - p.handshake_first_sent >= timing_.rekey_attempt_time) {
        index_.erase(p.handshake->local_index);
        p.handshake.reset();
        if (p.previous_handshake != nullptr) {
          index_.erase(p.previous_handshake->local_index);
          p.previous_handshake.reset();
        }
        p.handshake_first_sent = absl::InfinitePast();
        if (!p.queue.empty()) {
          counters_.AddDrop("handshake_timeout", p.queue.size());
          p.counters.AddDrop("handshake_timeout", p.queue.size());
          p.queue.clear();
        }
        LOG_EVERY_T(WARNING, 10) << "peer " << p.config.public_key.ShortString()
                                 << ": no handshake after "
                                 << absl::FormatDuration(timing_.rekey_attempt_time)
                                 << "; giving up until there is traffic for it";
      } else {
        Initiate(i, now);
      }
    }
    // Sent data, heard nothing: the peer may have restarted.
    if (p.handshake == nullptr && p.awaiting_reply_since != absl::InfiniteFuture() &&
        now - p.awaiting_reply_since >= timing_.keepalive_timeout + timing_.rekey_timeout) {
      p.awaiting_reply_since = absl::InfiniteFuture();
      Initiate(i, now);
    }
    // Received data, sent nothing since: a keepalive, so the peer does not
    // think we are gone.
    if (p.last_data_received != absl::InfinitePast() && p.last_sent < p.last_data_received &&
        now - p.last_data_received >= timing_.keepalive_timeout) {
      SendKeepalive(i, now);
      p.last_data_received = absl::InfinitePast();
    }
    // Expiry: sessions past reject_after_time are forgotten.
    for (std::unique_ptr<Session>* s : {&p.current, &p.previous, &p.next}) {
      if (*s != nullptr && now - (*s)->created >= timing_.reject_after_time) DropSession(*s);
    }
  }
}

// The deadlines Tick tests, one per condition there, in the same order.
absl::Time PeerCrypto::NextTimer() const {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& peer : peers_) {
    const Peer& p = *peer;
    if (p.handshake != nullptr) {
      next = std::min(next, p.handshake_sent + timing_.rekey_timeout);
    } else if (p.awaiting_reply_since != absl::InfiniteFuture()) {
      next = std::min(next,
                      p.awaiting_reply_since + timing_.keepalive_timeout + timing_.rekey_timeout);
    }
    if (p.last_data_received != absl::InfinitePast() && p.last_sent < p.last_data_received) {
      next = std::min(next, p.last_data_received + timing_.keepalive_timeout);
    }
    for (const std::unique_ptr<Session>* s : {&p.current, &p.previous, &p.next}) {
      if (*s != nullptr) next = std::min(next, (*s)->created + timing_.reject_after_time);
    }
  }
  return next;
}

std::vector<PeerCrypto::Outgoing> PeerCrypto::TakeOutgoing() {
  std::vector<Outgoing> out;
  out.swap(outbox_);
  return out;
}

std::vector<PeerCrypto::PeerInfo> PeerCrypto::Status() const {
  std::vector<PeerInfo> out;
  for (const auto& p : peers_) {
    PeerInfo info;
    info.public_key = p->config.public_key;
    info.allowed = p->config.allowed;
    int64_t hs = p->last_handshake_ns.load(std::memory_order_relaxed);
    if (hs != INT64_MIN) info.last_handshake = absl::FromUnixNanos(hs);
    int64_t rx = p->last_received_ns.load(std::memory_order_relaxed);
    if (rx != INT64_MIN) info.last_received = absl::FromUnixNanos(rx);
    int cipher = p->received_cipher.load(std::memory_order_relaxed);
    if (cipher >= 0) info.received_cipher = static_cast<aead::Cipher>(cipher);
    info.counters = p->counters.Snapshot();
    out.push_back(std::move(info));
  }
  return out;
}

void PeerCrypto::SetSendCounterForTest(size_t peer, uint64_t next) {
  Peer& p = *peers_.at(peer);
  if (p.current != nullptr) p.current->send_counter = next;
}

}  // namespace fstun
