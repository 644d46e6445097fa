// The fs transport's record: one file that carries a batch of frames.
//
// Layout (all integers little-endian; docs/fs-transport.md is the spec):
//
//   offset  size  field
//   0       4     magic "FSTR"
//   4       2     format version (1)
//   6       2     header bytes H = 48 + sender id length rounded up to 8
//   8       8     sender session id
//   16      8     sequence number (1, 2, ... per sender->receiver stream)
//   24      4     frame count N (1..kMaxRecordFrames)
//   28      4     flags (bit 0: frames start with a virtio_net_hdr; readers
//                 reject unknown bits)
//   32      4     payload bytes P (sum of the frame lengths)
//   36      1     sender id length L (1..kMaxPeerIdLength)
//   37      11    zero
//   48      L     sender id, then zero padding up to H
//   H       4*N   frame lengths
//   H+4N    P     the frames, back to back
//   H+4N+P  4     CRC-32C of every byte before it
//
// Format version 2 (written when keyed: TransportConfig::link_auth) is the
// same with a 16-byte tag before the CRC:
//   H+4N+P  16    tag: LinkMac (core/link_auth.h), sender -> receiver, over
//                 "fstun record v2", bytes 0..H+4N (header, sender id,
//                 frame lengths), the receiver's id, the receiver's session
//                 (8 bytes LE). The frames are not covered: they are sealed
//                 (AEAD) above the transport.
//   H+4N+P+16 4   CRC-32C of every byte before it
// A keyed reader acts on nothing in a record whose tag does not verify; an
// unkeyed reader takes version 1 only, as before.
//
// RecordEncoder builds the header and length table in a reused buffer and
// returns iovecs for one writev, so sending copies no frame bytes.
// ParseRecord validates a whole file image and yields views of its frames
// without copying. Both allocate nothing after warm-up.
#ifndef FSTUN_TRANSPORTS_FS_RECORD_H_
#define FSTUN_TRANSPORTS_FS_RECORD_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/frame.h"
#include "core/link_auth.h"

namespace fstun::fs {

inline constexpr uint32_t kRecordMagic = 0x52545346;  // "FSTR" in file byte order
inline constexpr uint16_t kRecordVersion = 1;
inline constexpr uint16_t kRecordVersionTagged = 2;
inline constexpr size_t kRecordTagBytes = LinkMac::kTagBytes;
inline constexpr size_t kRecordFixedHeader = 48;
inline constexpr size_t kRecordTrailer = 4;
inline constexpr size_t kMaxPeerIdLength = 64;
// A record never holds more frames than one writev can carry.
inline constexpr size_t kMaxRecordFrames = 1000;
// No reader accepts a larger file; writers cap files well below it.
inline constexpr size_t kMaxRecordBytes = 16 << 20;
// Flag: every frame starts with a 10-byte virtio_net_hdr and may be a GSO
// super-packet of up to kMaxFrameSize (both ends use TUN offloads).
inline constexpr uint32_t kRecordFlagVnetHdr = 1;

struct RecordHeader {
  uint16_t version = kRecordVersion;
  uint64_t session = 0;
  uint64_t seq = 0;
  uint32_t frame_count = 0;
  uint32_t flags = 0;
  uint32_t payload_bytes = 0;
  absl::string_view sender_id;  // points into the parsed image
};

// Bytes a record of these frames occupies on disk (`tagged`: version 2).
size_t RecordSize(size_t sender_id_length, size_t frame_count, size_t payload_bytes,
                  bool tagged = false);

// What a version-2 record's tag binds besides its own header: the MAC of
// the sender/receiver pair, and the receiver's id and session (from the
// record's name, which the header does not repeat).
struct RecordAuth {
  const LinkMac* mac = nullptr;
  absl::string_view receiver_id;
  uint64_t receiver_session = 0;
};

class RecordEncoder {
 public:
  RecordEncoder();

  // Describes one record of `frames` (1..kMaxRecordFrames, each non-empty);
  // with `auth` (its mac set), a tagged version-2 record.
  // The returned iovecs (valid until the next Encode) point at the
  // encoder's header and trailer and at the callers' frame bytes.
  absl::Span<const iovec> Encode(absl::string_view sender_id, uint64_t session, uint64_t seq,
                                 absl::Span<const FrameView> frames, uint32_t flags = 0,
                                 const RecordAuth* auth = nullptr);
  // Total bytes of the last encoded record.
  size_t size() const { return size_; }

 private:
  std::vector<uint8_t> head_;  // fixed header, id, padding, length table
  uint8_t trailer_[kRecordTagBytes + kRecordTrailer];
  std::vector<iovec> iov_;
  size_t size_ = 0;
};

// Why a file image is not a valid record. The names are the drop reasons
// the transport counts.
enum class RecordError {
  kOk,
  kTruncated,  // shorter than its header says (maybe still arriving)
  kBadMagic,
  kBadVersion,     // a version or flag this reader does not know
  kBadHeader,      // inconsistent lengths, bad id, zero frames, ...
  kTrailingBytes,  // longer than its header says
  kFrameTooLarge,  // a frame longer than the reader's limit
  kBadChecksum,
};
const char* RecordErrorName(RecordError e);

struct ParsedRecord {
  RecordHeader header;
  std::vector<FrameView> frames;  // views into the image; reused across parses
  // What the tag covers (header, id, lengths) and the tag: views into the
  // image; the tag is empty in a version-1 record.
  absl::string_view covered;
  absl::Span<const uint8_t> tag;
};

// Validates `image` (a whole file) and fills `out`. Frames longer than
// `max_frame_bytes` (kMaxFrameSize in a kRecordFlagVnetHdr record) make the
// record invalid. Allocates only when `out`
// must grow past its largest previous frame count.
RecordError ParseRecord(absl::Span<const uint8_t> image, size_t max_frame_bytes, ParsedRecord& out);

// True if `record` (parsed) is version 2 and its tag verifies as written by
// the peer of auth.mac to auth.receiver_id in auth.receiver_session.
bool VerifyRecord(const ParsedRecord& record, const RecordAuth& auth);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_RECORD_H_
