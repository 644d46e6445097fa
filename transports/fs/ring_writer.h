// RingWriter: the sender's end of one stream's ring file
// (<S>.<SS>.<RS>.ring in the receiver's inbox; ring_file.h has the layout).
//
// Theory of operation: Open() creates the file (or reuses it when a stream
// resumes), sizes it (sparse where the filesystem allows) and writes the
// header; Write() puts a record at the next place with one pwritev: no
// create, rename or unlink per record. The bytes of a record are reused
// only when the reader's ack (<S>.<SS>.<RS>.ack, which the reader owns)
// says it was read: Fits() answers from what is known, RefreshAck() reads
// the ack again (one pread; callers do it only when a record does not fit,
// or to measure the backlog). ForgetUnread() declares the unread records
// lost (the peer went away or restarted): their bytes may be overwritten,
// and the next record goes with a new resync point in the header, where a
// reader that lost the chain finds it (its gap rule).
#ifndef FSTUN_TRANSPORTS_FS_RING_WRITER_H_
#define FSTUN_TRANSPORTS_FS_RING_WRITER_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "transports/fs/ring_file.h"

namespace fstun::fs {

class RingWriter {
 public:
  // `inbox_fd`: the receiver's inbox (not owned; must outlive this);
  // `prefix`: the stream's "<S>.<SS>.<RS>."; `first_seq`: the first record
  // this writer will write.
  RingWriter(int inbox_fd, const std::string& prefix, RingGeometry geometry, RingIo io,
             FolderAccess access, uint64_t first_seq);

  absl::Status Open();
  const RingGeometry& geometry() const { return geometry_; }
  RingIo io() const { return ring_.io(); }

  // Whether a record of `bytes` can be written now without overwriting an
  // unread one (as far as the last ack tells).
  bool Fits(size_t bytes) const;
  // Reads the ack again; returns the highest record known read.
  uint64_t RefreshAck();
  uint64_t acked() const { return acked_; }
  // Since when the reader has not moved: the last time its ack moved, or
  // when the oldest unread record was written, whichever is later.
  absl::Time acked_at() const { return acked_at_; }
  void ForgetUnread();
  // The reader is gone: gives the disk its records took back (the file
  // keeps its size and header; a reader that comes back sees zeros until
  // the next record, which carries a resync point). Best effort.
  void ReleaseSpace();
  // Writes record `seq` (`total` bytes in `iov`), the next in order.
  absl::Status Write(uint64_t seq, absl::Span<const iovec> iov, size_t total);
  // Removes the ring file (a clean stop: the stream ends).
  void Remove();

 private:
  absl::Status WriteHeader(uint64_t resync_seq);

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
  };
  std::deque<Unread> unread_;       // written, not yet acked, in order
  uint64_t at_ = kRingHeaderBytes;  // where the next record goes
  uint64_t acked_;
  uint64_t written_;     // the highest record written
  bool resync_ = false;  // the next record starts a new chain (header)
  absl::Time acked_at_ = absl::Now();
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_RING_WRITER_H_
