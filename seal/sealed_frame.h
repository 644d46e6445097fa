// Sealed frames: the wire format of the sealing layer, and the two halves
// that write and read it (FrameSealer on the sending side, FrameOpener on
// the receiving side).
//
// Each frame is sealed on its own, with XChaCha20-Poly1305-IETF under the
// key, or (type 0xF3) with XAES-256-GCM (seal/aes_gcm.h) under
// BLAKE2b-256(key = the key, "fstun xaes-256-gcm"): each cipher under its
// own key. The sender picks (--cipher, seal/cipher.h); receivers open both.
//
//   offset  size  field
//        0     1  type: 0xF1 data frame (XChaCha20-Poly1305), 0xF3 data
//                 frame (XAES-256-GCM), 0xF2 hello (carries no frame;
//                 XChaCha20-Poly1305)
//        1     3  zero
//        4     4  sender id       (big-endian)
//        8     8  sender session  (big-endian)
//       16     8  sequence        (big-endian, 0, 1, 2, ... within a session)
//       24     8  echo: the receiver's session as the sender last heard it
//                 (0: not heard from it yet)
//       32     n  ciphertext of the frame
//     32+n    16  tag
//
// The first 24 header bytes are the nonce: unique per (type, sender,
// session, sequence), so no nonce travels separately. XAES derives a
// subkey from the first 12 (type, sender, the session's top half), which
// is fixed for a sender's session: once per session, not per frame. All 32 are associated data: a
// frame whose header was changed fails authentication. A sender picks a
// new session id at every start (wall-clock milliseconds in the top 42
// bits, 22 random bits below), so sessions of one sender are ordered and a
// restarted sender never reuses a nonce.
//
// The echo binds a frame to one run of its receiver, so frames recorded
// before the receiver restarted cannot be replayed to the new run (whose
// replay window is empty). A frame is fresh if its echo is the receiver's
// session, or if it is 0 and the sender's session began at most
// kUnconfirmedGrace before the receiver's (peers that start together talk
// at once). Otherwise the receiver drops it and answers with a hello, from
// which the sender learns the receiver's session; its next frames pass.
// Every authentic frame teaches its receiver the sender's session, which
// the receiver's sealer then echoes.
//
// FrameOpener checks in this order; the first failure names the drop:
//   malformed       shorter than the overhead, unknown type, non-zero pad
//   oversize        the frame would not fit the receiver's buffer
//   auth_failed     the tag does not verify (wrong key, forged, bit flip,
//                   truncated, header changed)
//   wrong_session   authentic, but from an older session of that sender (a
//                   frame copied back from an earlier run of the sender), or
//                   echoing an earlier run of this receiver
//   unconfirmed_session  authentic, echo 0, and the sender's session is
//                   older than this receiver's by more than the grace
//   replay          authentic, this sequence number was already accepted
//   too_old         authentic, below the replay window (reordered by more
//                   than ReplayWindow::kWindowSize)
//   too_many_senders  more distinct authentic senders than the table holds
// Only frames that authenticate touch the per-sender state, so nobody
// without the key can move a replay window or grow the table.
#ifndef FSTUN_SEAL_SEALED_FRAME_H_
#define FSTUN_SEAL_SEALED_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "core/frame.h"
#include "seal/aes_gcm.h"
#include "seal/cipher.h"
#include "seal/key.h"
#include "seal/replay_window.h"

namespace fstun {

inline constexpr uint8_t kSealMarker = 0xF1;       // data frame
inline constexpr uint8_t kSealHelloMarker = 0xF2;  // hello
inline constexpr uint8_t kSealAesMarker = 0xF3;    // data frame, XAES-256-GCM
inline constexpr size_t kSealNonceSize = 24;
inline constexpr size_t kSealHeaderSize = 32;
inline constexpr size_t kSealTagSize = 16;
// Bytes a sealed frame adds to the plaintext frame.
inline constexpr size_t kSealOverhead = kSealHeaderSize + kSealTagSize;

// Drop reasons of the sealing layer (besides core's "oversize"/"empty").
inline constexpr char kDropMalformed[] = "malformed";
inline constexpr char kDropAuthFailed[] = "auth_failed";
inline constexpr char kDropWrongSession[] = "wrong_session";
inline constexpr char kDropUnconfirmedSession[] = "unconfirmed_session";
inline constexpr char kDropReplay[] = "replay";
inline constexpr char kDropTooOld[] = "too_old";
inline constexpr char kDropTooManySenders[] = "too_many_senders";

// A new session id: wall-clock milliseconds << 22 | 22 random bits.
uint64_t NewSessionId();

// How much earlier than the receiver's a sender's session may have begun
// for its frames to be accepted before it has heard from the receiver.
inline constexpr uint64_t kUnconfirmedGraceMillis = 60'000;

// "192.0.2.2": a sender id printed as the IPv4 address it usually is.
std::string SenderIdToString(uint32_t sender_id);

class FrameSealer {
 public:
  // `key` must outlive the sealer. Data frames are sealed with `cipher`.
  FrameSealer(const Key& key, uint32_t sender_id, uint64_t session,
              aead::Cipher cipher = aead::Cipher::kChaCha20Poly1305);

  // Seals `frame` into `out` and returns the sealed size (frame.size() +
  // kSealOverhead), or 0 if `out` is too small or the sequence numbers of
  // this session are used up (after 2^64 frames).
  size_t Seal(FrameView frame, absl::Span<uint8_t> out);
  // Seals a hello (kSealOverhead bytes): tells the receiver this sender's
  // session, so that it can echo it.
  size_t SealHello(absl::Span<uint8_t> out);

  // The peer session to echo from now on (FrameOpener::Result::learned).
  void set_echo(uint64_t peer_session) { echo_ = peer_session; }
  uint64_t echo() const { return echo_; }

  uint32_t sender_id() const { return sender_id_; }
  uint64_t session() const { return session_; }
  uint64_t next_sequence() const { return next_seq_; }

 private:
  const Key& key_;
  const uint32_t sender_id_;
  const uint64_t session_;
  std::unique_ptr<aead::XAesGcmKey> xaes_;  // set: data frames are XAES-256-GCM
  uint64_t next_seq_ = 0;
  uint64_t echo_ = 0;

  size_t SealWithType(uint8_t type, FrameView frame, absl::Span<uint8_t> out);
};

class FrameOpener {
 public:
  // Why Open refused a frame; kOk if it did not.
  enum class Error {
    kOk,
    kMalformed,
    kOversize,
    kAuthFailed,
    kWrongSession,
    kUnconfirmedSession,
    kReplay,
    kTooOld,
    kTooManySenders
  };
  struct Result {
    Error error = Error::kOk;
    size_t size = 0;           // plaintext bytes written to `out` (kOk only)
    uint32_t sender_id = 0;    // as the header claims (unauthenticated unless
                               // the frame authenticated)
    bool hello = false;        // kOk: a hello, nothing to deliver
    bool new_session = false;  // the sender started a session newer than
                               // the one known (or is new)
    // Non-zero: the frame was authentic and this is the sender's current
    // session, for FrameSealer::set_echo.
    uint64_t learned = 0;
    // The sender does not know this receiver's session: answer with a hello
    // (wrong_session of the echo kind, unconfirmed_session).
    bool wants_hello = false;
  };

  // `key` must outlive the opener. `my_session` (non-zero) is this
  // receiver's session, the one fresh frames echo. At most `max_senders`
  // distinct senders are tracked; frames from further ones are dropped.
  FrameOpener(const Key& key, uint64_t my_session, size_t max_senders = 1024);

  // Checks and decrypts `sealed` into `out`. `out` holds plaintext only if
  // the frame authenticates (a refused frame's bytes there are wiped).
  Result Open(FrameView sealed, absl::Span<uint8_t> out);

  // The counter name of a refusal ("replay", ...).
  static const char* DropReason(Error error);

 private:
  struct SenderState {
    uint64_t session = 0;
    ReplayWindow window;
  };

  const Key& key_;
  std::unique_ptr<aead::XAesGcmKey> xaes_;  // made at the first 0xF3 frame
  const uint64_t my_session_;
  const size_t max_senders_;
  absl::flat_hash_map<uint32_t, SenderState> senders_;
};

}  // namespace fstun

#endif  // FSTUN_SEAL_SEALED_FRAME_H_
