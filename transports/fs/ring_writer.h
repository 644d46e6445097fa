// RingWriter: the sender's end of one stream's ring file
// (<S>.<SS>.<RS>.ring in the receiver's inbox; ring_file.h has the layout).
//
// Theory of operation: Open() creates the file whole (temp, sized, header,
// renamed over whatever is at the name: nothing planted there in advance is
// ever used); Write() puts a record at the next place with one pwritev: no
// create, rename or unlink per record. The bytes of a record are reused
// only when the reader's ack (<S>.<SS>.<RS>.ack, which the reader owns)
// says it was read: Fits() answers from what is known, RefreshAck() reads
// the ack again (one pread; callers do it only when a record does not fit,
// or to measure the backlog). ForgetUnread() declares the unread records
// lost (the peer went away or restarted): their bytes may be overwritten,
// and the next record goes with a new resync point in the header, where a
// reader that lost the chain finds it (its gap rule).
// Keyed (SetAuth), only an ack whose tag verifies counts (ring_file.h);
// any other is ignored and counted once (`bad_ack_auth`, TakeBadAcks);
// keyed or not, so is one that claims more than was written (`bad_ack`).
// MaybeMoveResync() is the way past a record spoiled in place: the reader
// cannot find record n+1 without record n, so when the ack has not moved
// for a gap wait while later records wait, the header's resync point moves
// to the record after the oldest unread one (then, one more wait later, to
// the newest); a reader that misses its next record jumps there only after
// it has read and verified the record (InboundStream). CheckFiles() (every
// 100 ms at most while records are unread, every 250 ms while none are:
// one fstat each of the ring and the ack) notices a ring removed or replaced under its name (the
// peer stopped and removed its inbox, or a folder writer) and an ack the reader created anew.
#ifndef FSTUN_TRANSPORTS_FS_RING_WRITER_H_
#define FSTUN_TRANSPORTS_FS_RING_WRITER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "transports/fs/ring_file.h"

namespace fstun::fs {

// See RingWriter::AckLookDue.
inline constexpr absl::Duration kAckLookDelay = absl::Milliseconds(25);

class RingWriter {
 public:
  // `inbox_fd`: the receiver's inbox (not owned; must outlive this);
  // `prefix`: the stream's "<S>.<SS>.<RS>."; `first_seq`: the first record
  // this writer will write.
  RingWriter(int inbox_fd, const std::string& prefix, RingGeometry geometry, RingIo io,
             FolderAccess access, uint64_t first_seq);

  // Creates the ring file anew (see above). NotFound: the inbox is gone.
  // FailedPrecondition: something at the name cannot be replaced (a
  // directory): the stream cannot use a ring.
  absl::Status Open();
  // Keyed: acks must carry a tag for `auth` (its views must outlive this).
  void SetAuth(const AckAuth& auth) { auth_ = auth; }
  const RingGeometry& geometry() const { return geometry_; }
  RingIo io() const { return ring_.io(); }

  // Whether a record of `bytes` can be written now without overwriting an
  // unread one (as far as the last ack tells).
  bool Fits(size_t bytes) const;
  // Reads the ack again; returns the highest record known read.
  uint64_t RefreshAck();
  // Whether a routine look at the ack (backlog, liveness) is worth its
  // read now: not while the ring has room for any record and its oldest
  // unread record is younger than kAckLookDelay. Right after a burst is
  // written the reader cannot have acked it yet (it writes its ack after
  // it handed the frames on): on NFS and SMB the read is a round trip
  // (0.2-11 ms in the VM bed) that stood between a ping's request and the
  // look for its reply.
  bool AckLookDue(absl::Time now) const;
  uint64_t acked() const { return acked_; }
  // Since when the reader has not moved: the last time its ack moved, or
  // when the oldest unread record was written, whichever is later.
  absl::Time acked_at() const { return acked_at_; }
  void ForgetUnread();
  // The reader is gone: gives the disk its records took back (the file
  // keeps its size and header; a reader that comes back sees zeros until
  // the next record, which carries a resync point). Best effort.
  void ReleaseSpace();
  // Forged acks seen since the last call (each one once while it stays).
  uint64_t TakeBadAcks() { return std::exchange(bad_acks_, 0); }
  // Acks seen since the last call that claim more than was written (each
  // once while it stays): never the reader's.
  uint64_t TakeImpossibleAcks() { return std::exchange(impossible_acks_, 0); }
  // The ack's name holds something the reader cannot replace (a
  // directory): no ack can ever come.
  bool ack_blocked() const { return ack_blocked_; }
  // The ring's and the ack's handles, looked at no more often than every
  // 100 ms: kGone if the ring was removed or replaced under its name (the
  // caller Open()s it again, or learns the inbox is gone); an ack that was
  // replaced is opened again at the next RefreshAck.
  // A ring cut short in place (truncated) is sized again and given its
  // header (kRepaired).
  enum class Files { kOk, kGone, kRepaired };
  Files CheckFiles(absl::Time now);
  bool has_unread() const { return !unread_.empty(); }
  // See above; true if the header moved.
  bool MaybeMoveResync(absl::Time now, absl::Duration wait);
  // Writes record `seq` (`total` bytes in `iov`), the next in order.
  absl::Status Write(uint64_t seq, absl::Span<const iovec> iov, size_t total);
  // Removes the ring file (a clean stop: the stream ends).
  void Remove();

 private:
  absl::Status WriteHeader(uint64_t resync_seq, uint64_t resync_at);

  const int inbox_fd_;
  const std::string ring_name_;
  const std::string ack_name_;
  const RingGeometry geometry_;
  const RingIo io_;
  const FolderAccess access_;
  RingFile ring_;
  RingFile ack_;
  AlignedBuffer buffer_;
  struct Unread {
    uint64_t seq;
    uint64_t at;
    absl::Time written;
  };
  std::deque<Unread> unread_;       // written, not yet acked, in order
  uint64_t at_ = kRingHeaderBytes;  // where the next record goes
  uint64_t acked_;
  uint64_t written_;     // the highest record written
  bool resync_ = false;  // the next record starts a new chain (header)
  absl::Time acked_at_ = absl::Now();
  std::optional<AckAuth> auth_;
  bool ack_forged_ = false;
  bool ack_blocked_ = false;  // the ack read last was forged (counted)
  uint64_t bad_acks_ = 0;
  uint64_t impossible_acks_ = 0;
  uint64_t header_seq_ = 0;  // the header's resync point
  int resync_moves_ = 0;     // since the ack last moved
  absl::Time moved_at_ = absl::InfinitePast();
  absl::Time next_check_ = absl::InfinitePast();
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_RING_WRITER_H_
