// The handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b, as WireGuard's
// (whitepaper section 5.4) with BLAKE2b in place of BLAKE2s:
//
//   IKpsk2:
//     <- s
//     ...
//     -> e, es, s, ss          initiation: ephemeral, sealed static key,
//                              sealed TAI64N timestamp (payload)
//     <- e, ee, se, psk        response: ephemeral, sealed empty payload
//
// The initiator must know the responder's static public key beforehand
// (each peer lists the others'); the responder learns the initiator's from
// the initiation and then checks that it is listed. The psk is the optional
// shared key (--key_file), 32 zero bytes without one. Split() gives one key
// per direction. Each message also carries mac1, a keyed BLAKE2b-128 of the
// message under BLAKE2b-256("mac1----" || receiver's public key), so a
// receiver refuses a message not made for it before any X25519 work.
//
// These functions hold no peer table: identity/peer_crypto.h decides which
// peers exist, which timestamps are fresh, and what the sessions are.
#ifndef FSTUN_IDENTITY_HANDSHAKE_H_
#define FSTUN_IDENTITY_HANDSHAKE_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "identity/keys.h"
#include "identity/messages.h"
#include "identity/noise.h"

namespace fstun {

inline constexpr char kNoiseProtocolName[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b";
inline constexpr char kNoisePrologue[] = "fstun identity v1";

using Tai64n = std::array<uint8_t, kTimestampSize>;
// TAI64N of `t`: 8 bytes big-endian seconds (2^62 + 10 + Unix seconds) and 4
// bytes big-endian nanoseconds. Byte order makes memcmp order time order.
Tai64n Tai64nOf(absl::Time t);

// This end's static key pair and what is derived from it once.
struct LocalIdentity {
  explicit LocalIdentity(PrivateKey key);
  PrivateKey private_key;
  PublicKey public_key;
  // mac1 key for messages addressed to this end.
  std::array<uint8_t, 32> mac1_key;
};

// mac1 key of messages addressed to `receiver`.
std::array<uint8_t, 32> Mac1Key(const PublicKey& receiver);
// True if `message`'s mac1 (its 16 bytes before the end) matches `mac1_key`.
bool CheckMac1(const std::array<uint8_t, 32>& mac1_key, absl::Span<const uint8_t> message);

struct SessionKeys {
  noise::CipherKey send;
  noise::CipherKey receive;
  void Wipe();
};

// What the initiator keeps between sending an initiation and reading the
// response.
struct InitiatorHandshake {
  InitiatorHandshake();
  ~InitiatorHandshake();
  noise::SymmetricState state;
  std::array<uint8_t, 32> ephemeral_private;
  uint32_t local_index = 0;
};

// Writes an initiation (kInitiationSize bytes) to `peer` into `out`.
void CreateInitiation(const LocalIdentity& me, const PublicKey& peer, uint32_t local_index,
                      const Tai64n& timestamp, InitiatorHandshake* hs, uint8_t* out);

// Responder, first half: what an initiation says, once it decrypted.
struct ReceivedInitiation {
  ReceivedInitiation();
  ~ReceivedInitiation();
  noise::SymmetricState state;
  PublicKey initiator;  // authenticated by the ss token
  std::array<uint8_t, 32> remote_ephemeral;
  Tai64n timestamp;
  uint32_t sender_index = 0;
};

enum class HandshakeError {
  kOk,
  kMalformed,  // wrong size/type/padding
  kBadMac1,    // not made for this end (or altered)
  kBadKey,     // a low-order public key
  kDecryptFailed,
};

// Checks mac1 and decrypts the initiation. The caller then checks that
// `out->initiator` is a listed peer and that the timestamp is newer than the
// last accepted one from it before answering.
HandshakeError ConsumeInitiation(const LocalIdentity& me, absl::Span<const uint8_t> message,
                                 ReceivedInitiation* out);

// Responder, second half: writes the response (kResponseSize bytes) and
// derives the session keys. `psk` is 32 bytes.
HandshakeError CreateResponse(ReceivedInitiation* in, absl::Span<const uint8_t> psk,
                              uint32_t local_index, uint8_t* out, SessionKeys* keys);

// Initiator: reads the response to `hs` from `peer` and derives the keys.
HandshakeError ConsumeResponse(const LocalIdentity& me, const PublicKey& peer,
                               absl::Span<const uint8_t> psk, InitiatorHandshake* hs,
                               absl::Span<const uint8_t> message, SessionKeys* keys);

}  // namespace fstun

#endif  // FSTUN_IDENTITY_HANDSHAKE_H_
