// Theory of operation: see ring_file.h. Every open is relative to the
// inbox's directory fd with O_NOFOLLOW | O_NONBLOCK (a symlink or FIFO
// planted under a ring's name is refused, never followed or blocked on)
// and checked to be a regular file. With O_DIRECT, reads go to the
// kRingAlign-aligned caller buffer in whole kRingAlign units; writes are
// tried from the caller's iovecs first (FUSE, NFS and 9p take any
// alignment) and, where the filesystem refuses that (EINVAL), copied into
// an aligned buffer padded with zeros. A filesystem that refuses O_DIRECT
// at open falls back to kReopen (logged once): a fresh handle per read.
// With RingIo::buffered_writes (NFS) a writable handle is a plain O_WRONLY
// one (write-only: the client never reads a partly written page first)
// and each write is pushed by two sync_file_range calls: WRITE alone
// starts writeback without data integrity (WB_SYNC_NONE: the client sends
// an UNSTABLE WRITE; WRITE together with both WAITs would be WB_SYNC_ALL,
// which the client sends as FILE_SYNC again), then WAIT_AFTER waits for
// the server's reply. Where sync_file_range is refused (an old seccomp
// list, a kernel without it) the write falls back to fdatasync (logged
// once): correct, as slow as O_DIRECT.
#include "transports/fs/ring_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crc32c.h"
#include "glog/logging.h"
#include "transports/fs/le_bytes.h"

namespace fstun::fs {
namespace {

size_t RoundUp(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

}  // namespace

const char* RingIoName(RingIo io) {
  switch (io.kind) {
    case RingIo::kHeld:
      return "held handle";
    case RingIo::kDirect:
      return io.buffered_writes ? "held O_DIRECT handle, pushed writes" : "held O_DIRECT handle";
    case RingIo::kReopen:
      return "re-opened per read";
  }
  return "?";
}

RingIo ChooseRingIo(const FolderProfile& profile) {
  const std::string& t = profile.type;
  RingIo io = RingIo::kHeld;
  if (t == "vboxsf" || t == "vmhgfs" || absl::StartsWith(t, "fuse.vmhgfs")) {
    io = RingIo::kReopen;
  } else if (profile.remote || absl::StartsWith(t, "fuse") || t == "9p" || t == "virtiofs" ||
             absl::StartsWith(t, "nfs") || t == "cifs" || t == "smb3" || t == "smbfs") {
    io = RingIo::kDirect;
  }
  io.gather_writes = io.kind == RingIo::kDirect && (t == "cifs" || t == "smb3" || t == "smbfs" ||
                                                    absl::StartsWith(t, "nfs") || t == "9p");
  io.buffered_writes = io.kind == RingIo::kDirect && absl::StartsWith(t, "nfs");
  io.refresh_dir_attributes = profile.refresh_dir_attributes;
  io.lookup_without_intent = profile.lookup_without_intent;
  return io;
}

RingGeometry RingGeometryFor(size_t max_file_bytes, size_t max_backlog_bytes) {
  RingGeometry g;
  g.max_record = static_cast<uint32_t>(RoundUp(max_file_bytes, kRingAlign));
  const uint64_t room =
      std::max<uint64_t>(RoundUp(max_backlog_bytes, kRingAlign), uint64_t{4} * g.max_record);
  g.end = kRingHeaderBytes + std::min<uint64_t>(room, kMaxRingBytes - kRingHeaderBytes);
  return g;
}

void EncodeRingHeader(const RingHeader& h, uint8_t out[kRingHeaderBytes]) {
  std::memset(out, 0, kRingHeaderBytes);
  Put32(out, kRingMagic);
  Put16(out + 4, 1);
  Put32(out + 8, h.geometry.max_record);
  Put64(out + 16, h.geometry.end);
  Put64(out + 24, h.resync_seq);
  Put64(out + 32, h.resync_at);
  Put32(out + 40, Crc32c(out, 40));
}

std::optional<RingHeader> ParseRingHeader(absl::Span<const uint8_t> b) {
  if (b.size() < 44 || Get32(b.data()) != kRingMagic || Get16(b.data() + 4) != 1 ||
      Get32(b.data() + 40) != Crc32c(b.data(), 40)) {
    return std::nullopt;
  }
  RingHeader h;
  h.geometry.max_record = Get32(b.data() + 8);
  h.geometry.end = Get64(b.data() + 16);
  h.resync_seq = Get64(b.data() + 24);
  h.resync_at = Get64(b.data() + 32);
  const RingGeometry& g = h.geometry;
  if (g.max_record < kRingAlign || g.max_record % kRingAlign != 0 || g.end > kMaxRingBytes ||
      g.end < kRingHeaderBytes + g.max_record || h.resync_at % kRingAlign != 0 ||
      h.resync_at < kRingHeaderBytes || h.resync_at + g.max_record > g.end) {
    return std::nullopt;
  }
  return h;
}

namespace {

constexpr char kAckTagLabel[] = "fstun ring ack v1";
constexpr uint32_t kAckTagged = 2;

std::string SessionBytes(uint64_t session) {
  uint8_t b[8];
  Put64(b, session);
  return std::string(reinterpret_cast<const char*>(b), sizeof b);
}

// The writer's and the reader's ids and sessions are all hashed in: an ack
// of the other direction, of another stream or session does not verify.
LinkMac::Tag AckTag(const AckAuth& a, LinkMac::Direction direction, const uint8_t* covered) {
  return a.mac->Compute(
      direction,
      {kAckTagLabel, absl::string_view(reinterpret_cast<const char*>(covered), 24), a.writer_id,
       SessionBytes(a.writer_session), a.reader_id, SessionBytes(a.reader_session)});
}

}  // namespace

size_t EncodeAck(uint64_t consumed, uint8_t* out, const AckAuth* auth) {
  std::memset(out, 0, kRingAckTaggedBytes);
  const bool tagged = auth != nullptr && auth->mac != nullptr;
  Put32(out, kAckMagic);
  Put32(out + 4, tagged ? kAckTagged : 0);
  Put64(out + 8, consumed);
  Put32(out + 24, Crc32c(out, 24));
  if (!tagged) return kRingAckBytes;
  const LinkMac::Tag tag = AckTag(*auth, LinkMac::kToPeer, out);
  std::memcpy(out + kRingAckBytes, tag.data(), tag.size());
  return kRingAckTaggedBytes;
}

AckError ParseAck(absl::Span<const uint8_t> b, uint64_t* consumed, const AckAuth* auth) {
  if (b.size() < kRingAckBytes || Get32(b.data()) != kAckMagic ||
      Get32(b.data() + 24) != Crc32c(b.data(), 24)) {
    return AckError::kNotAck;
  }
  if (auth != nullptr) {
    if (auth->mac == nullptr || Get32(b.data() + 4) != kAckTagged ||
        b.size() < kRingAckTaggedBytes ||
        !auth->mac->Verify(
            LinkMac::kFromPeer,
            {kAckTagLabel, absl::string_view(reinterpret_cast<const char*>(b.data()), 24),
             auth->writer_id, SessionBytes(auth->writer_session), auth->reader_id,
             SessionBytes(auth->reader_session)},
            b.subspan(kRingAckBytes, LinkMac::kTagBytes))) {
      return AckError::kBadAuth;
    }
  }
  *consumed = Get64(b.data() + 8);
  return AckError::kOk;
}

absl::Status CreateRingFile(int dirfd, const std::string& name, const RingHeader& header,
                            const FolderAccess& access) {
  const mode_t mode = access.group ? 0660 : 0600;
  std::string temp;
  UniqueFd fd;
  for (int attempt = 0; attempt < 8 && !fd.valid(); ++attempt) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r) {
      return absl::UnavailableError("ring: getrandom failed");
    }
    temp = absl::StrCat(".", name, ".tmp.", absl::Hex(r, absl::kZeroPad16));
    fd.reset(openat(dirfd, temp.c_str(),
                    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                    mode));
    if (!fd.valid() && errno != EEXIST) break;
  }
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("creating a temp for ", name));
  auto fail = [&](const char* what) {
    absl::Status s = absl::ErrnoToStatus(errno, absl::StrCat(what, " ", temp));
    unlinkat(dirfd, temp.c_str(), 0);
    return s;
  };
  if (access.group && (fchown(fd.get(), static_cast<uid_t>(-1), *access.group) != 0 ||
                       fchmod(fd.get(), mode) != 0)) {
    return fail("sharing");
  }
  if (ftruncate(fd.get(), static_cast<off_t>(header.geometry.end)) != 0) return fail("sizing");
  uint8_t h[kRingHeaderBytes];
  EncodeRingHeader(header, h);
  if (pwrite(fd.get(), h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) return fail("writing");
  fd.reset();
  if (renameat(dirfd, temp.c_str(), dirfd, name.c_str()) != 0) return fail("renaming");
  return absl::OkStatus();
}

void AlignedBuffer::Free::operator()(uint8_t* p) const { std::free(p); }

uint8_t* AlignedBuffer::Reserve(size_t bytes) {
  bytes = RoundUp(std::max<size_t>(bytes, kRingAlign), kRingAlign);
  if (bytes > capacity_) {
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(kRingAlign, bytes)));
    capacity_ = data_ ? bytes : 0;
  }
  return data_.get();
}

absl::Status RingFile::Open(int dirfd, const std::string& name, RingIo io, bool create,
                            bool writable, const FolderAccess& access) {
  Close();
  dirfd_ = dirfd;
  name_ = name;
  io_ = io;
  writable_ = writable;
  if (create) {
    // Made here (0600, or 0660 for --fs_group), never followed.
    const mode_t mode = access.group ? 0660 : 0600;
    UniqueFd fd(openat(dirfd, name.c_str(),
                       O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("creating ", name));
    if (access.group) {
      (void)fchown(fd.get(), static_cast<uid_t>(-1), *access.group);
      (void)fchmod(fd.get(), mode);
    }
  }
  absl::Status s = Reopen(direct());
  if (absl::IsNotFound(s) && io_.revalidates()) {
    // Past the negative lookup entry an earlier miss may have left (NFS,
    // SMB): without this a ring created after the first look stayed hidden
    // until fstun's inbox listing refreshed the folder (~2 s on NFSv4 in
    // the VM test bed, at start and after every restart).
    FolderProfile again;
    again.refresh_dir_attributes = io_.refresh_dir_attributes;
    again.lookup_without_intent = io_.lookup_without_intent;
    if (RevalidateName(again, dirfd, name.c_str())) s = Reopen(direct());
  }
  if (!s.ok() && direct() && absl::IsInvalidArgument(s)) {
    LOG_FIRST_N(WARNING, 1) << "fs: O_DIRECT refused for " << name
                            << "; the ring store re-opens its files per read instead";
    io_.kind = RingIo::kReopen;
    s = Reopen(false);
  }
  if (!s.ok()) return s;
  open_ = true;
  if (io_.kind == RingIo::kReopen && !writable_) fd_.reset();  // opened per read
  return absl::OkStatus();
}

absl::Status RingFile::Reopen(bool direct) {
  const int mode = !writable_ ? O_RDONLY : pushed() ? O_WRONLY : O_RDWR;
  int flags = mode | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  if (direct) flags |= O_DIRECT;
  UniqueFd fd(openat(dirfd_, name_.c_str(), flags));
  if (!fd.valid()) {
    const int e = errno;
    if (e == ENOENT) return absl::NotFoundError(name_);
    return absl::ErrnoToStatus(e, absl::StrCat("opening ", name_));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(name_, " is not a regular file"));
  }
  fd_ = std::move(fd);
  return absl::OkStatus();
}

void RingFile::Close() {
  fd_.reset();
  open_ = false;
}

ssize_t RingFile::ReadAt(uint8_t* buf, size_t n, uint64_t offset) {
  if (!open_) return -EBADF;
  if (io_.kind == RingIo::kReopen && !writable_) {
    if (absl::Status s = Reopen(false); !s.ok()) return absl::IsNotFound(s) ? -ENOENT : -EIO;
  }
  ssize_t r = pread(fd_.get(), buf, n, static_cast<off_t>(offset));
  if (r < 0) r = -errno;
  if (io_.kind == RingIo::kReopen && !writable_) fd_.reset();
  return r;
}

absl::Status RingFile::WriteAt(absl::Span<const iovec> iov, size_t total, uint64_t offset) {
  if (!open_ || !fd_.valid()) return absl::FailedPreconditionError("ring file not open");
  if (pushed()) return PushAt(iov, total, offset);
  const bool direct = io_.kind == RingIo::kDirect;
  const bool gather = direct && io_.gather_writes && iov.size() > 1;
  ssize_t w = -1;
  errno = EINVAL;
  if (!gather) {
    w = pwritev(fd_.get(), iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
  }
  if (w < 0 && errno == EINVAL && direct) {
    // One aligned buffer, padded with zeros: what a filesystem that wants
    // aligned O_DIRECT writes needs, and one request on cifs (gather).
    const size_t padded = RoundUp(total, kRingAlign);
    uint8_t* p = scratch_.Reserve(padded);
    if (p == nullptr) return absl::ResourceExhaustedError("ring: no memory");
    size_t at = 0;
    for (const iovec& v : iov) {
      std::memcpy(p + at, v.iov_base, v.iov_len);
      at += v.iov_len;
    }
    std::memset(p + at, 0, padded - at);
    w = pwrite(fd_.get(), p, padded, static_cast<off_t>(offset));
    if (w >= 0 && static_cast<size_t>(w) >= total) w = static_cast<ssize_t>(total);
  }
  if (w < 0) return absl::ErrnoToStatus(errno, absl::StrCat("writing ", name_));
  if (static_cast<size_t>(w) != total) {
    return absl::DataLossError(absl::StrCat("short write to ", name_, ": ", w, " of ", total));
  }
  return absl::OkStatus();
}

absl::Status RingFile::PushAt(absl::Span<const iovec> iov, size_t total, uint64_t offset) {
  const ssize_t w =
      pwritev(fd_.get(), iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
  if (w < 0) return absl::ErrnoToStatus(errno, absl::StrCat("writing ", name_));
  if (static_cast<size_t>(w) != total) {
    return absl::DataLossError(absl::StrCat("short write to ", name_, ": ", w, " of ", total));
  }
  const off_t at = static_cast<off_t>(offset);
  const off_t bytes = static_cast<off_t>(total);
  if (sync_file_range(fd_.get(), at, bytes, SYNC_FILE_RANGE_WRITE) == 0 &&
      sync_file_range(fd_.get(), at, bytes, SYNC_FILE_RANGE_WAIT_AFTER) == 0) {
    return absl::OkStatus();
  }
  const int e = errno;
  if (e == EPERM || e == ENOSYS || e == EINVAL || e == ESPIPE) {
    LOG_FIRST_N(WARNING, 1) << "fs: sync_file_range refused (" << strerror(e)
                            << "); the ring store pushes its writes with fdatasync instead";
    if (fdatasync(fd_.get()) == 0) return absl::OkStatus();
  }
  // A write-back error (ESTALE: the server removed the file) shows here.
  return absl::ErrnoToStatus(errno, absl::StrCat("writing ", name_));
}

int64_t RingFile::Size() {
  if (!fd_.valid()) return -EBADF;
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return -errno;
  return st.st_size;
}

int64_t RingFile::Links(int64_t* size) {
  if (!fd_.valid()) return -EBADF;
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return -errno;
  if (size != nullptr) *size = st.st_size;
  return static_cast<int64_t>(st.st_nlink);
}

absl::Status RingFile::GrowTo(uint64_t bytes) {
  const int64_t size = Size();
  if (size < 0) return absl::ErrnoToStatus(static_cast<int>(-size), "ring: fstat");
  if (static_cast<uint64_t>(size) >= bytes) return absl::OkStatus();
  if (ftruncate(fd_.get(), static_cast<off_t>(bytes)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("sizing ", name_));
  }
  return absl::OkStatus();
}

bool RingFile::PunchHole(uint64_t from, uint64_t to) {
  if (!fd_.valid() || to <= from) return false;
  return fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from),
                   static_cast<off_t>(to - from)) == 0;
}

}  // namespace fstun::fs
