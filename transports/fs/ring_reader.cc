// Theory of operation: see ring_reader.h.
#include "transports/fs/ring_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/le_bytes.h"
#include "transports/fs/record.h"

namespace fstun::fs {
namespace {

// While records keep coming, the ack is written after this many records
// (and whenever the reader finds nothing more to read).
constexpr uint64_t kAckRecords = 64;

size_t RoundUp(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

std::string FileName(const std::string& prefix, const char* suffix) {
  return absl::StrCat(prefix.substr(0, prefix.size() - 1), suffix);  // prefix ends in "."
}

bool IsDirectory(int dirfd, const std::string& name) {
  struct stat st;
  return fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool Unlinked(int64_t links) { return links == 0 || links == -ESTALE || links == -ENOENT; }

}  // namespace

RingReader::RingReader(int inbox_fd, const std::string& prefix, RingIo io, FolderAccess access)
    : inbox_fd_(inbox_fd),
      ring_name_(FileName(prefix, kRingSuffix)),
      ack_name_(FileName(prefix, kAckSuffix)),
      io_(io),
      access_(access) {}

std::optional<RingHeader> RingReader::ReadHeader() {
  uint8_t* b = small_.Reserve(kRingHeaderBytes);
  ssize_t n = b == nullptr ? -ENOMEM : ring_.ReadAt(b, kRingHeaderBytes, 0);
  if (n == -ENOENT) ring_.Close();
  if (n <= 0) return std::nullopt;
  return ParseRingHeader({b, static_cast<size_t>(n)});
}

bool RingReader::OpenRing() {
  absl::Status s = ring_.Open(inbox_fd_, ring_name_, io_, /*create=*/false, /*writable=*/false);
  missing_ = absl::IsNotFound(s);
  if (!s.ok()) {
    // A symlink or FIFO the writer's next ring replaces; a directory not.
    if (!absl::IsNotFound(s)) {
      LOG_EVERY_T(WARNING, 10) << "fs: " << s;
    }
    return false;
  }
  std::optional<RingHeader> h = ReadHeader();
  if (!h) {
    ring_.Close();  // being created: next time
    return false;
  }
  geometry_ = h->geometry;
  if (!positioned_) {
    at_ = h->resync_at;
    positioned_ = true;
  }
  return true;
}

std::optional<RingHeader> RingReader::Resync() {
  if (!ring_.is_open() && !OpenRing()) return std::nullopt;
  std::optional<RingHeader> h = ReadHeader();
  if (h && (h->geometry.max_record != geometry_.max_record || h->geometry.end != geometry_.end)) {
    return std::nullopt;  // another writer's ring? never mix geometries
  }
  return h;
}

RingReader::Slot RingReader::ReadNext(absl::Span<const uint8_t>* image,
                                      std::optional<uint64_t> at) {
  if (!ring_.is_open() && !OpenRing()) {
    return !missing_ && IsDirectory(inbox_fd_, ring_name_) ? Slot::kBlocked : Slot::kNoRing;
  }
  const uint64_t offset = at.value_or(at_);
  if (probing_) back_to_back_ = false;  // the read after a taken record was not the next one
  probing_ = !at.has_value() && after_take_;
  after_take_ = false;
  const size_t first =
      std::min<size_t>(probing_ && back_to_back_ ? last_taken_ : kRingAlign, geometry_.max_record);
  uint8_t* b = buffer_.Reserve(geometry_.max_record);
  if (b == nullptr) return Slot::kEmpty;
  ssize_t n = ring_.ReadAt(b, first, offset);
  if (n == -ENOENT) {
    ring_.Close();
    return Slot::kNoRing;
  }
  if (n < static_cast<ssize_t>(kRecordFixedHeader) || Get32(b) != kRecordMagic) {
    return Slot::kEmpty;
  }
  const uint16_t version = Get16(b + 4);
  const uint64_t total = uint64_t{Get16(b + 6)} + 4 * uint64_t{Get32(b + 24)} + Get32(b + 32) +
                         (version == kRecordVersionTagged ? kRecordTagBytes : 0) + kRecordTrailer;
  if (total > geometry_.max_record) return Slot::kEmpty;  // never a record of this ring
  // The rest, in as many reads as the filesystem needs (9p answers one
  // read with at most its msize, 128 KiB by default); each goes on from an
  // aligned offset (O_DIRECT), re-reading the tail of the last one.
  size_t got = static_cast<size_t>(n);
  while (got < total) {
    const size_t have = got / kRingAlign * kRingAlign;
    ssize_t more = ring_.ReadAt(b + have, RoundUp(total, kRingAlign) - have, offset + have);
    if (more <= 0 || have + static_cast<size_t>(more) <= got) return Slot::kEmpty;
    got = have + static_cast<size_t>(more);
  }
  *image = {b, static_cast<size_t>(total)};
  return Slot::kBytes;
}

void RingReader::Advance(size_t bytes) {
  at_ = geometry_.Next(at_, bytes);
  last_taken_ = std::clamp<size_t>(RoundUp(bytes, kRingAlign), kRingAlign, kRingFirstReadMax);
  if (probing_) back_to_back_ = true;
  probing_ = false;
  after_take_ = true;
}

void RingReader::CheckFiles() {
  // A removed file stays readable through a held handle: only its link
  // count (or ESTALE on a network share) tells.
  if (ring_.is_open() && Unlinked(ring_.Links())) ring_.Close();  // the writer's new one next
  if (ack_.is_open() && Unlinked(ack_.Links())) {
    ack_.Close();
    published_ = 0;  // write a new one when idle
  }
}

void RingReader::MaybePublish(absl::Time now, bool idle) {
  if (consumed_ <= published_ || ack_blocked_) return;
  const bool many = consumed_ - published_ >= kAckRecords;
  if (!many && !idle) return;
  uint8_t* b = small_.Reserve(kRingAlign);
  if (b == nullptr) return;
  const size_t bytes = EncodeAck(consumed_, b, auth_ ? &*auth_ : nullptr);
  iovec iov{b, bytes};
  if (!ack_.is_open()) {
    // Made whole and renamed over whatever is at the name: a file someone
    // planted there is never written into (nor read by the writer).
    bool blocked = false;
    absl::Status s = WriteRecordFile(inbox_fd_, ack_name_.c_str(), {&iov, 1}, access_, &blocked);
    if (blocked) {
      ack_blocked_ = true;
      LOG(WARNING) << "fs: " << ack_name_
                   << " is blocked by something that cannot be replaced (a directory?)";
      return;
    }
    if (s.ok()) {
      s = ack_.Open(inbox_fd_, ack_name_, io_, /*create=*/false, /*writable=*/true, access_);
    }
    if (!s.ok()) {
      LOG_EVERY_T(WARNING, 10) << "fs: " << s;
      return;
    }
  } else if (absl::Status s = ack_.WriteAt({&iov, 1}, bytes, 0); !s.ok()) {
    LOG_EVERY_T(WARNING, 10) << "fs: " << s;
    ack_.Close();
    return;
  }
  published_ = consumed_;
}

}  // namespace fstun::fs
