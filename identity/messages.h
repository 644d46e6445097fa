// The wire format of fstun's per-peer messages: plain byte strings that any
// transport carries as ordinary frames (the fs transport as records, the
// stream transport as frames, memory/loopback as frames). The first byte
// says what a message is; nothing else about the transport is assumed.
//
//   initiation (132 bytes)              response (76 bytes)
//   0   1 type 0xE1                     0   1 type 0xE2
//   1   3 zero                          1   3 zero
//   4   4 sender index (LE)             4   4 sender index (LE)
//   8  32 ephemeral public key          8   4 receiver index (LE)
//  40  48 static public key, sealed    12  32 ephemeral public key
//  88  28 timestamp (TAI64N), sealed   44  16 empty payload, sealed
// 116  16 mac1                         60  16 mac1
//
//   data (32 + n bytes)
//   0   1 type 0xE4
//   1   1 flags: 0x01 the frame starts with a virtio-net header (kVnet)
//              0x02 sealed with AES-256-GCM (kAesGcm), else ChaCha20-Poly1305
//   2   2 zero
//   4   4 receiver index (LE): the receiver's own number for the session
//   8   8 counter (LE): the AEAD nonce, checked against a replay window
//  16 n+16 the frame, sealed with the session key of its direction:
//          ChaCha20-Poly1305 under the key, nonce 0^4 || counter (LE), as
//          WireGuard; or AES-256-GCM under BLAKE2b-256(key = the session
//          key, "fstun aes-256-gcm"), nonce 0^4 || counter (BE), as Noise's
//          AESGCM. The sender picks (--cipher, seal/cipher.h); a receiver
//          opens either, each cipher under its own key.
//
// As WireGuard's messages (docs/security.md), less the cookie (mac2): there
// is no UDP source address to return a cookie to, and a folder writer can
// drop traffic anyway. An empty data message is a keepalive. The header
// (flags included) is the AEAD's associated data, so the frame format a
// receiver acts on is the one its sender sealed. The type bytes
// are never an IP version nibble (4, 6) nor the key-only sealed frames'
// 0xF1-0xF3, so a bare packet written into a folder is "malformed".
#ifndef FSTUN_IDENTITY_MESSAGES_H_
#define FSTUN_IDENTITY_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"

namespace fstun {

enum class MessageType : uint8_t { kInitiation = 0xE1, kResponse = 0xE2, kData = 0xE4 };

inline constexpr size_t kInitiationSize = 132;
inline constexpr size_t kResponseSize = 76;
inline constexpr size_t kDataHeaderSize = 16;
inline constexpr size_t kDataOverhead = kDataHeaderSize + 16;  // header + tag
inline constexpr size_t kMac1Size = 16;
inline constexpr uint8_t kDataFlagVnet = 0x01;
inline constexpr uint8_t kDataFlagAesGcm = 0x02;
inline constexpr size_t kTimestampSize = 12;

// Offsets (see the table above).
namespace msg {
inline constexpr size_t kInitSender = 4, kInitEphemeral = 8, kInitStatic = 40, kInitTimestamp = 88,
                        kInitMac1 = 116;
inline constexpr size_t kRespSender = 4, kRespReceiver = 8, kRespEphemeral = 12, kRespEmpty = 44,
                        kRespMac1 = 60;
inline constexpr size_t kDataReceiver = 4, kDataCounter = 8;
}  // namespace msg

// The type of a well-formed message: right size for its type, zero
// padding (a data message: known flags), a data message at least a tag long. nullopt otherwise
// ("malformed"). Looks at nothing secret and never reads out of bounds.
std::optional<MessageType> ClassifyMessage(absl::Span<const uint8_t> message);

uint32_t LoadLe32(const uint8_t* p);
uint64_t LoadLe64(const uint8_t* p);
void StoreLe32(uint8_t* p, uint32_t v);
void StoreLe64(uint8_t* p, uint64_t v);

}  // namespace fstun

#endif  // FSTUN_IDENTITY_MESSAGES_H_
