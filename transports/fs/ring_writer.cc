// Theory of operation: see ring_writer.h.
#include "transports/fs/ring_writer.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun::fs {
namespace {

std::string FileName(const std::string& prefix, const char* suffix) {
  return absl::StrCat(prefix.substr(0, prefix.size() - 1), suffix);  // prefix ends in "."
}

}  // namespace

RingWriter::RingWriter(int inbox_fd, const std::string& prefix, RingGeometry geometry, RingIo io,
                       FolderAccess access, uint64_t first_seq)
    : inbox_fd_(inbox_fd),
      ring_name_(FileName(prefix, kRingSuffix)),
      ack_name_(FileName(prefix, kAckSuffix)),
      geometry_(geometry),
      io_(io),
      access_(access),
      acked_(first_seq - 1),
      written_(first_seq - 1) {}

absl::Status RingWriter::Open() {
  // A stream that resumes finds its ring; a new one creates it whole.
  absl::Status s = ring_.Open(inbox_fd_, ring_name_, io_, /*create=*/false, /*writable=*/true);
  if (absl::IsNotFound(s)) {
    RingHeader header;
    header.geometry = geometry_;
    header.resync_seq = written_ + 1;
    header.resync_at = at_;
    if (s = CreateRingFile(inbox_fd_, ring_name_, header, access_); !s.ok()) return s;
    return ring_.Open(inbox_fd_, ring_name_, io_, /*create=*/false, /*writable=*/true);
  }
  if (!s.ok()) return s;
  if (s = ring_.GrowTo(geometry_.end); !s.ok()) return s;
  return WriteHeader(written_ + 1);
}

absl::Status RingWriter::WriteHeader(uint64_t resync_seq) {
  uint8_t* h = buffer_.Reserve(kRingHeaderBytes);
  if (h == nullptr) return absl::ResourceExhaustedError("ring: no memory");
  RingHeader header;
  header.geometry = geometry_;
  header.resync_seq = resync_seq;
  header.resync_at = at_;
  EncodeRingHeader(header, h);
  iovec iov{h, kRingHeaderBytes};
  return ring_.WriteAt({&iov, 1}, kRingHeaderBytes, 0);
}

bool RingWriter::Fits(size_t bytes) const {
  if (bytes > geometry_.max_record) return false;
  if (unread_.empty()) return true;
  const uint64_t head = unread_.front().at;  // the oldest unread record
  // Unread bytes run from head up to at_ (wrapping); the next record needs
  // [at_, at_ + bytes), which the wrap rule keeps before the end.
  if (at_ > head) return true;
  return at_ < head && at_ + bytes <= head;
}

uint64_t RingWriter::RefreshAck() {
  if (!ack_.is_open()) {
    // The reader creates it when it first reads the ring.
    if (!ack_.Open(inbox_fd_, ack_name_, io_, /*create=*/false, /*writable=*/false).ok()) {
      return acked_;
    }
  }
  uint8_t* b = buffer_.Reserve(kRingAlign);
  if (b == nullptr) return acked_;
  ssize_t n = ack_.ReadAt(b, kRingAlign, 0);
  if (n == -ENOENT) ack_.Close();
  if (n < static_cast<ssize_t>(kRingAckBytes)) return acked_;
  std::optional<uint64_t> consumed = ParseAck({b, static_cast<size_t>(n)});
  // Never believe more than was written (an ack someone else wrote must
  // not free bytes that hold unread records).
  if (consumed && *consumed > acked_ && written_ > acked_) {
    acked_ = std::min(*consumed, written_);
    acked_at_ = absl::Now();
  }
  while (!unread_.empty() && unread_.front().seq <= acked_) unread_.pop_front();
  return acked_;
}

void RingWriter::ForgetUnread() {
  if (unread_.empty()) return;
  unread_.clear();
  acked_ = written_;
  acked_at_ = absl::Now();
  resync_ = true;
}

void RingWriter::ReleaseSpace() {
  ForgetUnread();
  resync_ = true;
  if (!ring_.PunchHole(kRingHeaderBytes, geometry_.end)) {
    VLOG(1) << "fs: " << ring_name_ << ": the filesystem keeps the space of read records";
  }
}

absl::Status RingWriter::Write(uint64_t seq, absl::Span<const iovec> iov, size_t total) {
  if (!Fits(total)) return absl::ResourceExhaustedError("ring: no room");
  if (resync_) {
    // Readers that lost the chain (the records before were given up) find
    // this record through the header.
    if (absl::Status s = WriteHeader(seq); !s.ok()) return s;
    resync_ = false;
  }
  absl::Status s = ring_.WriteAt(iov, total, at_);
  if (!s.ok()) return s;
  if (unread_.empty()) acked_at_ = absl::Now();  // the reader's wait starts now
  unread_.push_back({seq, at_});
  written_ = std::max(written_, seq);
  at_ = geometry_.Next(at_, total);
  return absl::OkStatus();
}

void RingWriter::Remove() {
  ring_.Close();
  ack_.Close();
  unlinkat(inbox_fd_, ring_name_.c_str(), 0);
}

}  // namespace fstun::fs
