// Theory of operation: see ring_writer.h.
#include "transports/fs/ring_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun::fs {
namespace {

std::string FileName(const std::string& prefix, const char* suffix) {
  return absl::StrCat(prefix.substr(0, prefix.size() - 1), suffix);  // prefix ends in "."
}

bool IsDirectory(int dirfd, const std::string& name) {
  struct stat st;
  return fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
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
  // Always a new file, renamed over whatever is there: a file planted at
  // the name (or the ring a reader may still hold) is never written into.
  ring_.Close();
  RingHeader header;
  header.geometry = geometry_;
  header.resync_seq = written_ + 1;
  header.resync_at = at_;
  if (absl::Status s = CreateRingFile(inbox_fd_, ring_name_, header, access_); !s.ok()) {
    if (absl::IsNotFound(s)) return s;
    if (IsDirectory(inbox_fd_, ring_name_)) {
      return absl::FailedPreconditionError(absl::StrCat(ring_name_, " is a directory"));
    }
    return absl::UnavailableError(s.message());
  }
  header_seq_ = header.resync_seq;
  next_check_ = absl::InfinitePast();
  return ring_.Open(inbox_fd_, ring_name_, io_, /*create=*/false, /*writable=*/true);
}

absl::Status RingWriter::WriteHeader(uint64_t resync_seq, uint64_t resync_at) {
  uint8_t* h = buffer_.Reserve(kRingHeaderBytes);
  if (h == nullptr) return absl::ResourceExhaustedError("ring: no memory");
  RingHeader header;
  header.geometry = geometry_;
  header.resync_seq = resync_seq;
  header.resync_at = resync_at;
  EncodeRingHeader(header, h);
  iovec iov{h, kRingHeaderBytes};
  absl::Status s = ring_.WriteAt({&iov, 1}, kRingHeaderBytes, 0);
  if (s.ok()) header_seq_ = resync_seq;
  return s;
}

bool RingWriter::AckLookDue(absl::Time now) const {
  if (unread_.empty() || !Fits(geometry_.max_record)) return true;
  return now - unread_.front().written >= kAckLookDelay;
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
    absl::Status s = ack_.Open(inbox_fd_, ack_name_, io_, /*create=*/false, /*writable=*/false);
    if (!s.ok()) {
      // A directory (the reader's rename cannot replace it): no ack ever.
      ack_blocked_ = absl::IsFailedPrecondition(s) && IsDirectory(inbox_fd_, ack_name_);
      return acked_;
    }
  }
  uint8_t* b = buffer_.Reserve(kRingAlign);
  if (b == nullptr) return acked_;
  ssize_t n = ack_.ReadAt(b, kRingAlign, 0);
  if (n == -ENOENT) ack_.Close();
  if (n < static_cast<ssize_t>(kRingAckBytes)) return acked_;
  uint64_t consumed = 0;
  const AckError e = ParseAck({b, static_cast<size_t>(n)}, &consumed, auth_ ? &*auth_ : nullptr);
  if (e == AckError::kBadAuth) {
    // Not the reader's: it claims nothing. Counted once while it stays.
    if (!ack_forged_) {
      ack_forged_ = true;
      ++bad_acks_;
      LOG_EVERY_T(WARNING, 10) << "fs: the ack file " << ack_name_
                               << " does not verify (written by someone without the key?); "
                                  "ignored";
    }
    return acked_;
  }
  if (e != AckError::kOk) return acked_;
  if (consumed > written_) {
    // More than was ever written: not the reader's (a far-future number a
    // folder writer put there). Believed, it would free every place each
    // time it is read, so the writer would overwrite unread records for as
    // long as it stays. Ignored, counted once while it stays.
    if (!ack_forged_) {
      ack_forged_ = true;
      ++impossible_acks_;
      LOG_EVERY_T(WARNING, 10) << "fs: the ack file " << ack_name_ << " claims record " << consumed
                               << " was read, but only " << written_ << " were written; ignored";
    }
    return acked_;
  }
  ack_forged_ = false;
  if (consumed > acked_) {
    acked_ = consumed;
    acked_at_ = absl::Now();
    resync_moves_ = 0;
  }
  while (!unread_.empty() && unread_.front().seq <= acked_) unread_.pop_front();
  return acked_;
}

RingWriter::Files RingWriter::CheckFiles(absl::Time now) {
  if (now < next_check_) return Files::kOk;
  next_check_ = now + (unread_.empty() ? absl::Milliseconds(250) : absl::Milliseconds(100));
  // A removed file stays readable and writable through a held handle:
  // only its link count (or, on a network share, ESTALE) tells.
  int64_t size = 0;
  const int64_t links = ring_.Links(&size);
  if (links == 0 || links == -ESTALE || links == -ENOENT) return Files::kGone;
  Files result = Files::kOk;
  if (links > 0 && static_cast<uint64_t>(size) < geometry_.end) {
    // Cut short in place: records after the cut read as zeros (their
    // reader gets back through the resync point: the next record).
    if (ring_.GrowTo(geometry_.end).ok() && WriteHeader(written_ + 1, at_).ok()) {
      result = Files::kRepaired;
    }
  }
  const int64_t ack_links = ack_.is_open() ? ack_.Links() : 1;
  if (ack_links == 0 || ack_links == -ESTALE || ack_links == -ENOENT) {
    ack_.Close();  // the reader made a new one: read that
  }
  return result;
}

bool RingWriter::MaybeMoveResync(absl::Time now, absl::Duration wait) {
  if (unread_.size() < 2 || now - acked_at_ < wait) return false;
  if (resync_moves_ > 0 && now - moved_at_ < wait) return false;
  // First the record after the one the reader waits at (it may be spoiled
  // in place); if the reader still does not move, the newest.
  const Unread& target = resync_moves_ == 0 ? unread_[1] : unread_.back();
  if (target.seq == header_seq_) return false;
  if (!WriteHeader(target.seq, target.at).ok()) return false;
  ++resync_moves_;
  moved_at_ = now;
  LOG_EVERY_T(WARNING, 10) << "fs: the reader of " << ring_name_ << " has not moved past record "
                           << acked_ + 1 << " for " << wait << "; resync point moved to "
                           << target.seq;
  return true;
}

void RingWriter::ForgetUnread() {
  if (unread_.empty()) return;
  unread_.clear();
  acked_ = written_;
  acked_at_ = absl::Now();
  resync_moves_ = 0;
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
    if (absl::Status s = WriteHeader(seq, at_); !s.ok()) return s;
    resync_ = false;
  }
  absl::Status s = ring_.WriteAt(iov, total, at_);
  if (!s.ok()) {
    // A network share's server removed the file (ESTALE): as gone.
    const int64_t links = ring_.Links();
    if (links == 0 || links == -ESTALE || links == -ENOENT) {
      return absl::NotFoundError(absl::StrCat(ring_name_, " is gone"));
    }
    return s;
  }
  if (unread_.empty()) acked_at_ = absl::Now();  // the reader's wait starts now
  unread_.push_back({seq, at_, absl::Now()});
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
