// PeerCrypto: per-peer sessions keyed by public key, as a WireGuard device
// keeps them, for a transport that carries byte strings to a given peer.
//
// The caller (the per-peer sealing layer: identity/identity_transport.h,
// or the core's routing table) decides which peer a frame goes to and
// hands PeerCrypto plaintext for that peer; PeerCrypto seals it with that
// peer's current session, or queues it and starts a handshake. Every message
// from the transport goes to Open, which attributes it to the peer whose
// session key authenticates it (never to a sender id the message claims) and
// checks that the inner source address lies in that peer's allowed prefixes
// (cryptokey routing, WireGuard's AllowedIPs). Handshake messages, keepalives
// and frames released after a handshake appear in the outbox; the caller
// sends each to its peer (TakeOutgoing). Tick runs the timers: handshake
// retries, rekeying, keepalives and expiry.
//
//   auto pc = PeerCrypto::Create(std::move(private_key), psk, {.peers = peers});
//   size_t n = (*pc)->Seal(peer, frame, out, absl::Now());   // 0: queued/dropped
//   PeerCrypto::Opened r = (*pc)->Open(message, out, absl::Now());
//   for (auto& m : (*pc)->TakeOutgoing()) transport.SendTo(m.peer, m.bytes);
//
// All times are passed in, so tests drive the timers with a fake clock.
// Threads: Seal/Open/Tick/TakeOutgoing on one thread (the pump's);
// counters() and Status() from any thread.
#ifndef FSTUN_IDENTITY_PEER_CRYPTO_H_
#define FSTUN_IDENTITY_PEER_CRYPTO_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"
#include "core/ip_address.h"
#include "identity/handshake.h"
#include "identity/keys.h"
#include "seal/aes_gcm.h"
#include "seal/cipher.h"
#include "seal/replay_window.h"

namespace fstun {

struct PeerConfig {
  PublicKey public_key;
  // Inner source addresses this peer may send from, and destinations it is
  // sent to (longest prefix wins between peers).
  std::vector<IpPrefix> allowed;
};

// Parses "PUBKEY,PREFIX[,PREFIX...]" (the --peer flag).
absl::StatusOr<PeerConfig> ParsePeerSpec(absl::string_view spec);

// WireGuard's timer constants (whitepaper section 6.1).
struct IdentityTiming {
  absl::Duration rekey_after_time = absl::Seconds(120);
  absl::Duration reject_after_time = absl::Seconds(180);
  absl::Duration rekey_attempt_time = absl::Seconds(90);
  absl::Duration rekey_timeout = absl::Seconds(5);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // Initiations from one peer closer together than this are refused
  // (WireGuard: 50 per second).
  absl::Duration min_initiation_interval = absl::Milliseconds(20);
  uint64_t rekey_after_messages = uint64_t{1} << 60;
  uint64_t reject_after_messages = ~uint64_t{0} - (uint64_t{1} << 13);
};

struct PeerCryptoOptions {
  std::vector<PeerConfig> peers;
  IdentityTiming timing;
  // Frames held per peer while its handshake is in flight.
  size_t max_queued_frames = 256;
  // What this end seals data messages with (--cipher); it opens both.
  aead::Cipher cipher = aead::AutoCipher();
};

class PeerCrypto {
 public:
  // `psk`: the optional preshared key (32 bytes), empty for none.
  // InvalidArgument: a peer listed twice, this end's own key listed, an
  // invalid (low-order) public key, the same prefix given to two peers.
  static absl::StatusOr<std::unique_ptr<PeerCrypto>> Create(PrivateKey key,
                                                            absl::Span<const uint8_t> psk,
                                                            PeerCryptoOptions options);
  ~PeerCrypto();

  size_t peer_count() const { return peers_.size(); }
  const PeerConfig& peer_config(size_t peer) const;
  const PublicKey& public_key() const { return me_.public_key; }
  // Outbound cryptokey routing: the peer whose allowed prefixes hold `dst`
  // most specifically.
  std::optional<size_t> PeerFor(const IpAddress& dst) const;

  // Seals `frame` for `peer` into `out` (frame.size() + kDataOverhead
  // bytes) and returns the size written. `vnet`: the frame starts with a
  // virtio-net header (the receiver learns it from Opened::vnet). 0: the frame was queued until a
  // handshake completes (it then appears in the outbox), or dropped and
  // counted ("oversize", "queue_full", "counter_exhausted").
  size_t Seal(size_t peer, FrameView frame, absl::Span<uint8_t> out, absl::Time now,
              bool vnet = false);

  struct Opened {
    // Empty: a frame to deliver (size bytes in out) or nothing to deliver
    // (a handshake message or keepalive); else the drop reason, counted.
    std::string drop;
    bool authentic = false;  // it authenticated as `peer`
    size_t peer = 0;         // valid when authentic
    size_t size = 0;         // plaintext bytes in out
    bool vnet = false;       // the frame starts with a virtio-net header
    bool deliver = false;
  };
  Opened Open(FrameView message, absl::Span<uint8_t> out, absl::Time now);

  // Timers: handshake retries and give-up, rekeying, keepalives, expiry.
  void Tick(absl::Time now);
  // When Tick next has something to do (a retry, a keepalive, a peer
  // presumed restarted, a session to forget); InfiniteFuture if nothing is
  // pending. The caller need not call Tick before then: an idle tunnel
  // wakes at its timers' own cadence (seconds), not at a fixed rate.
  absl::Time NextTimer() const;

  struct Outgoing {
    size_t peer;
    std::vector<uint8_t> bytes;
  };
  std::vector<Outgoing> TakeOutgoing();
  bool has_outgoing() const { return !outbox_.empty(); }

  // tx/rx: data frames (not handshakes, not keepalives); drops by reason.
  CounterSnapshot counters() const { return counters_.Snapshot(); }

  struct PeerInfo {
    PublicKey public_key;
    std::vector<IpPrefix> allowed;
    absl::Time last_handshake = absl::InfinitePast();
    absl::Time last_received = absl::InfinitePast();
    // The cipher of the last data message this end opened from the peer
    // (nullopt: none yet).
    std::optional<aead::Cipher> received_cipher;
    CounterSnapshot counters;
  };
  std::vector<PeerInfo> Status() const;

  aead::Cipher cipher() const { return cipher_; }

  // Tests: make the next frames of `peer`'s current session use counters
  // from `next` on (exhaustion).
  void SetSendCounterForTest(size_t peer, uint64_t next);

 private:
  struct Session {
    uint32_t local_index = 0;
    uint32_t remote_index = 0;
    SessionKeys keys;
    uint64_t send_counter = 0;
    ReplayWindow window;
    absl::Time created;
    bool initiator = false;
    bool confirmed = false;
    // AES-256-GCM keys derived from `keys`, made when first needed.
    std::unique_ptr<aead::AesGcmKey> aes_send, aes_receive;
    ~Session() { keys.Wipe(); }
  };
  struct Peer {
    PeerConfig config;
    std::unique_ptr<Session> current, previous, next;
    std::unique_ptr<InitiatorHandshake> handshake;
    // The initiation a retry replaced: its response is still accepted for
    // one more retry interval (a round trip may exceed rekey_timeout).
    std::unique_ptr<InitiatorHandshake> previous_handshake;
    absl::Time handshake_sent = absl::InfinitePast();
    absl::Time handshake_first_sent = absl::InfinitePast();
    absl::Time last_timestamp_sent = absl::InfinitePast();
    Tai64n greatest_timestamp{};  // of initiations accepted from it
    absl::Time last_initiation_accepted = absl::InfinitePast();
    struct Queued {
      std::vector<uint8_t> bytes;
      bool vnet = false;
    };
    std::deque<Queued> queue;
    absl::Time last_sent = absl::InfinitePast();
    absl::Time last_data_received = absl::InfinitePast();
    absl::Time awaiting_reply_since = absl::InfiniteFuture();
    bool logged_handshake = false;
    std::atomic<int64_t> last_handshake_ns{INT64_MIN};
    std::atomic<int64_t> last_received_ns{INT64_MIN};
    std::atomic<int> received_cipher{-1};  // an aead::Cipher, -1 none yet
    Counters counters;
  };
  struct IndexEntry {
    size_t peer;
    bool handshake;  // an initiation in flight, else a session
  };

  PeerCrypto(PrivateKey key, absl::Span<const uint8_t> psk, PeerCryptoOptions options);

  uint32_t NewIndex();
  void DropSession(std::unique_ptr<Session>& s);
  void Initiate(size_t peer, absl::Time now);
  void MaybeInitiate(size_t peer, absl::Time now);
  bool Usable(const Session& s, absl::Time now) const;
  size_t SealWith(Session& s, Peer& p, FrameView frame, uint8_t* out, absl::Time now,
                  bool vnet = false);
  void SendKeepalive(size_t peer, absl::Time now);
  void FlushQueue(size_t peer, absl::Time now);
  void Promote(size_t peer, std::unique_ptr<Session> s, absl::Time now);
  Opened Drop(absl::string_view reason);
  Opened OpenInitiation(FrameView m, absl::Time now);
  Opened OpenResponse(FrameView m, absl::Time now);
  Opened OpenData(FrameView m, absl::Span<uint8_t> out, absl::Time now);

  const LocalIdentity me_;
  std::array<uint8_t, 32> psk_;
  const IdentityTiming timing_;
  const size_t max_queued_;
  const aead::Cipher cipher_;
  std::vector<std::unique_ptr<Peer>> peers_;
  absl::flat_hash_map<PublicKey, size_t> by_key_;
  absl::flat_hash_map<uint32_t, IndexEntry> index_;
  std::vector<Outgoing> outbox_;
  Counters counters_;
  absl::flat_hash_set<PublicKey> unknown_logged_;
};

// The inner source address of a frame (plain IP, or behind a virtio header).
std::optional<IpAddress> FrameSource(FrameView frame);

}  // namespace fstun

#endif  // FSTUN_IDENTITY_PEER_CRYPTO_H_
