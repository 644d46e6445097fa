// RingReader: the receiver's end of one stream's ring file
// (<S>.<SS>.<RS>.ring in the own inbox; ring_file.h has the layout).
//
// Theory of operation: the ring is opened once (by name, when it exists
// and its header is valid) and then polled by reading where the next
// record goes: one pread of a small first part, a second one only if the
// record is larger. The first part is one kRingAlign unit, except right
// after a record was taken while records come back to back (the last
// read right after a taken record found the next one): then it is as
// large as that record, at most kRingFirstReadMax, so a busy stream costs
// one read per record. A stream that brings one record per look (bulk on
// tmpfs, where the reader keeps up) would otherwise copy a record's worth
// of an old lap's bytes after each record, before its frames go to the
// TUN; on a share those bytes cross the network. ReadNext() only finds
// bytes; whether they are the awaited record (magic, CRC, session,
// number, tag) is the caller's (InboundStream) decision, with the same
// codec as record files; Advance() moves past a record read. Resync()
// reads the header again (the caller does it only while the next record
// stays missing) for where the writer started anew. Consumption is
// published in the ack file this reader owns
// (<S>.<SS>.<RS>.ack): every kAckRecords records while records keep
// coming, and whenever the reader finds nothing more to read (so the ack
// is current while the reader waits: a writer that looks at it when its
// backlog is full does not drop what was already read); the writer reads
// it only when it needs room or to measure its backlog.
#ifndef FSTUN_TRANSPORTS_FS_RING_READER_H_
#define FSTUN_TRANSPORTS_FS_RING_READER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "transports/fs/ring_file.h"

namespace fstun::fs {

inline constexpr size_t kRingFirstReadMax = 256 << 10;

class RingReader {
 public:
  // `inbox_fd`: the own inbox (not owned; must outlive this); `prefix`:
  // the stream's "<S>.<SS>.<RS>.".
  RingReader(int inbox_fd, const std::string& prefix, RingIo io, FolderAccess access);

  enum class Slot {
    kNoRing,   // no ring file (yet), or its header is not valid (yet)
    kBlocked,  // a directory at the ring's name: no ring can be made
    kEmpty,    // nothing that could be a record there
    kBytes,    // a record-shaped image (not yet validated)
  };
  // Reads where the next record goes (`at`: somewhere else, e.g. a resync
  // point); on kBytes `image` holds its bytes (as long as the record
  // header says) until the next call.
  Slot ReadNext(absl::Span<const uint8_t>* image, std::optional<uint64_t> at = std::nullopt);
  // The record just read (of `bytes`) was the awaited one: move past it.
  void Advance(size_t bytes);
  // The header's resync point, if the ring is open and its header valid.
  std::optional<RingHeader> Resync();
  void JumpTo(uint64_t at) {
    at_ = at;
    after_take_ = false;
  }
  uint64_t at() const { return at_; }
  // Every record through `seq` was read.
  void Consumed(uint64_t seq) { consumed_ = seq; }
  // Writes the ack if due (`idle`: nothing more to read now).
  void MaybePublish(absl::Time now, bool idle);
  RingIo io() const { return ring_.io(); }
  // Keyed: acks carry a tag for `auth` (its views must outlive this).
  void SetAuth(const AckAuth& auth) { auth_ = auth; }
  // See above.
  void CheckFiles();
  // A directory at the ack's name: no ack can be written.
  bool ack_blocked() const { return ack_blocked_; }

 private:
  bool OpenRing();
  std::optional<RingHeader> ReadHeader();

  const int inbox_fd_;
  const std::string ring_name_;
  const std::string ack_name_;
  const RingIo io_;
  const FolderAccess access_;
  RingFile ring_;
  RingFile ack_;
  RingGeometry geometry_;
  uint64_t at_ = kRingHeaderBytes;
  bool positioned_ = false;  // at_ came from a header (first open)
  AlignedBuffer buffer_;
  AlignedBuffer small_;
  // The first read's size (see above): the last taken record's size
  // (rounded up), whether the next read at at_ comes right after it, whether
  // such a read awaits its verdict (taken or not), and whether the last one
  // found the next record.
  size_t last_taken_ = kRingAlign;
  bool after_take_ = false;
  bool probing_ = false;
  bool back_to_back_ = false;
  uint64_t consumed_ = 0;
  uint64_t published_ = 0;
  std::optional<AckAuth> auth_;
  bool ack_blocked_ = false;
  bool missing_ = true;  // the last open found no entry at the ring's name
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_RING_READER_H_
