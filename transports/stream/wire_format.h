// The stream transport's wire format: frames as length-prefixed,
// checksummed records on a byte stream, and the decoder that finds them
// again after garbage.
//
// A record is a 20-byte header followed by `length` payload bytes; all
// numbers little-endian:
//
//   offset size  field
//        0    4  magic F5 7E 5A 1C (the sync marker a decoder scans for)
//        4    1  type (RecordType)
//        5    1  flags (0; receivers ignore bits they do not know)
//        6    2  reserved (0)
//        8    4  length of the payload (at most kMaxRecordPayload)
//       12    4  CRC-32C of the payload
//       16    4  CRC-32C of bytes 0..15 of this header
//
// The header has its own checksum so that a decoder can reject a false
// header (garbage that happens to contain the magic, or a header whose
// length was corrupted) before it waits for `length` bytes that may never
// come. After a header or payload that fails its checksum the decoder skips
// one byte and scans on for the next magic: a frame cut or padded by noise
// on a serial line costs only itself, never the ones after it.
//
// A hello record (HelloRecord) is the first thing each end writes on a new
// connection; it says what frames the end takes, so offload frames
// (virtio_net_hdr super-packets) travel only when both ends use them.
//
//   RecordDecoder decoder(kMaxFrameSize);
//   absl::Span<uint8_t> room = decoder.WritableTail();
//   decoder.Commit(read(fd, room.data(), room.size()));
//   while (std::optional<Record> r = decoder.Next()) { ...r->type, r->payload... }
#ifndef FSTUN_TRANSPORTS_STREAM_WIRE_FORMAT_H_
#define FSTUN_TRANSPORTS_STREAM_WIRE_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/types/span.h"
#include "core/frame.h"

namespace fstun::stream {

inline constexpr std::array<uint8_t, 4> kMagic = {0xF5, 0x7E, 0x5A, 0x1C};
inline constexpr size_t kHeaderSize = 20;
// The largest payload a record may carry: any frame fstun handles.
inline constexpr size_t kMaxRecordPayload = kMaxFrameSize;

enum class RecordType : uint8_t {
  // One frame exactly as the sending end's pump handed it over, without a
  // virtio_net_hdr: an IP packet, or a sealed frame.
  kFrame = 1,
  // One frame that starts with a virtio_net_hdr (possibly a GSO
  // super-packet); sent only to an end whose hello has kFeatureVnetFrames.
  kVnetFrame = 2,
  // A HelloRecord.
  kHello = 3,
};

// Encodes the header of a record carrying `payload` into `out`.
void EncodeHeader(RecordType type, absl::Span<const uint8_t> payload,
                  std::array<uint8_t, kHeaderSize>& out);

// --- hello -----------------------------------------------------------------

// Hello feature bits.
// This end takes frames that start with a virtio_net_hdr (its TUN has
// offloads on): it takes kVnetFrame records. (The core adapts frames to
// what each end takes; the stream only carries them.)
inline constexpr uint32_t kFeatureVnetFrames = 1u << 0;
// Bit 1 was "opaque (sealed) frames" before the core adapted formats;
// receivers ignore it.

struct HelloRecord {
  static constexpr uint8_t kVersion = 1;
  static constexpr size_t kSize = 24;

  uint8_t version = kVersion;
  uint32_t features = 0;
  uint64_t session = 0;       // random, new for each start of the sender
  uint64_t peer_session = 0;  // the last session the sender heard from, 0 if none

  std::array<uint8_t, kSize> Encode() const;
  // nullopt if shorter than kSize (longer payloads: later versions; the
  // extra bytes are ignored).
  static std::optional<HelloRecord> Decode(absl::Span<const uint8_t> payload);
};

// --- decoding ----------------------------------------------------------------

struct Record {
  RecordType type;
  // Valid until the next call to WritableTail() or Next().
  absl::Span<const uint8_t> payload;
};

// What the decoder threw away: everything it could not read as a record.
struct DecoderStats {
  uint64_t records = 0;        // good records returned
  uint64_t garbage_bytes = 0;  // bytes skipped while looking for a header
  uint64_t resyncs = 0;        // stretches of garbage (each ends at a good record)
  uint64_t bad_headers = 0;    // magic found, header checksum or length wrong
  uint64_t bad_payloads = 0;   // header good, payload checksum wrong
  uint64_t unknown_types = 0;  // good record of a type this version does not know
};

// Finds records in a byte stream fed in pieces of any size. Owns one buffer
// of fixed size (at least a header plus the largest payload), allocated
// once.
class RecordDecoder {
 public:
  // `max_payload`: records announcing more are treated as garbage.
  // `buffer_bytes`: how much may be read ahead (raised to fit one record).
  explicit RecordDecoder(size_t max_payload = kMaxRecordPayload, size_t buffer_bytes = 256 << 10);

  // Free space to read into; never empty after Next() returned nullopt.
  absl::Span<uint8_t> WritableTail();
  // `n` bytes were written at the start of WritableTail().
  void Commit(size_t n);

  // The next good record of a known type, or nullopt if more bytes are
  // needed. Records of unknown types are skipped (and counted).
  std::optional<Record> Next();

  // True if buffered bytes may still hold a record (Next() has work to do
  // without reading more): the caller must come back even when its fd does
  // not become readable again.
  bool has_buffered() const { return end_ > start_; }
  size_t buffered_bytes() const { return end_ - start_; }

  // Forgets buffered bytes (a new connection starts a new stream).
  void Reset();

  const DecoderStats& stats() const { return stats_; }

 private:
  void Skip(size_t n);

  const size_t max_payload_;
  const size_t capacity_;
  std::unique_ptr<uint8_t[]> buffer_;
  size_t start_ = 0;  // first unparsed byte
  size_t end_ = 0;    // one past the last byte read
  bool in_garbage_ = false;
  // Set when Next() checked the header at start_ and waits for its payload.
  bool header_checked_ = false;
  DecoderStats stats_;
};

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_WIRE_FORMAT_H_
