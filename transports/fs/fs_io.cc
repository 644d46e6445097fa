#include "transports/fs/fs_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "sys/unique_fd.h"

namespace fstun::fs {
namespace {

constexpr int kReadFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

absl::Status ErrnoStatus(int err, absl::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, ": ", strerror(err)));
}

}  // namespace

uint8_t* ByteBuffer::Reserve(size_t capacity) {
  if (capacity > capacity_) {
    size_t grown = std::max(capacity, capacity_ * 2);
    data_.reset(new uint8_t[grown]);
    capacity_ = grown;
    size_ = 0;
  }
  return data_.get();
}

ReadResult ReadRegularFile(int dirfd, const char* name, size_t max_bytes, ByteBuffer& buffer,
                           UniqueFd* keep_open) {
  buffer.set_size(0);
  UniqueFd fd(openat(dirfd, name, kReadFlags));
  if (!fd.valid()) {
    if (errno == ENOENT) return {ReadOutcome::kMissing, ENOENT};
    // O_NOFOLLOW on a symlink gives ELOOP; some filesystems give EMLINK.
    if (errno == ELOOP || errno == EMLINK || errno == ENXIO || errno == EISDIR) {
      return {ReadOutcome::kNotRegular, errno};
    }
    return {ReadOutcome::kError, errno};
  }
  struct stat st;
  ReadResult result{ReadOutcome::kOk, 0};
  if (fstat(fd.get(), &st) != 0) {
    result = {ReadOutcome::kError, errno};
  } else if (!S_ISREG(st.st_mode)) {
    result = {ReadOutcome::kNotRegular, 0};
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    result = {ReadOutcome::kTooLarge, 0};
  } else {
    // Ask for one byte more than fstat says: a short read at or past that
    // size then proves EOF without a second read() in the common case (and
    // without a second request: 9p with O_NONBLOCK sends one Tread per
    // read(); NFS, SMB and FUSE read through their page caches). A short
    // read *before* that size proves nothing: 9p with O_NONBLOCK returns at
    // most one request's worth (msize: 128 KiB by default on Linux 6.1), so
    // a bigger record comes in several reads (taking the first as the end
    // cut such records short: `truncated`, lost). fstat's size may also be
    // stale on network shares, so the loop keeps reading (bounded) when the
    // file turns out longer.
    const size_t size = st.st_size;
    size_t have = 0;
    uint8_t* data = buffer.Reserve(std::min<size_t>(size + 1, max_bytes + 1));
    while (true) {
      if (have == buffer.capacity()) {
        if (have > max_bytes) {
          result = {ReadOutcome::kTooLarge, 0};
          break;
        }
        ByteBuffer bigger;
        std::memcpy(bigger.Reserve(std::min(max_bytes + 1, have * 2)), data, have);
        buffer = std::move(bigger);
        data = buffer.data();
      }
      size_t ask = buffer.capacity() - have;
      ssize_t n = read(fd.get(), data + have, ask);
      if (n < 0) {
        if (errno == EINTR) continue;
        result = {ReadOutcome::kError, errno};
        break;
      }
      have += n;
      if (have > max_bytes) {
        result = {ReadOutcome::kTooLarge, 0};
        break;
      }
      // The end: nothing more, or a short read at or past fstat's size.
      if (n == 0 || (have >= size && static_cast<size_t>(n) < ask)) break;
    }
    if (result.outcome == ReadOutcome::kOk) buffer.set_size(have);
  }
  if (result.outcome == ReadOutcome::kOk && keep_open != nullptr) *keep_open = std::move(fd);
  return result;
}

namespace {

// 16 random hex digits for a temp name (getrandom; never blocks after boot).
void AppendRandomHex(std::string& out) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
    r = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) * 0x9E3779B97F4A7C15ull;
  }
  absl::StrAppend(&out, absl::Hex(r, absl::kZeroPad16));
}

}  // namespace

absl::Status WriteRecordFile(int dirfd, const char* final, absl::Span<const iovec> iov,
                             const FolderAccess& access, bool* name_blocked,
                             const char* fixed_temp) {
  if (name_blocked != nullptr) *name_blocked = false;
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  std::string temp;
  UniqueFd fd;
  for (int attempt = 0; attempt < 4 && !fd.valid(); ++attempt) {
    if (fixed_temp != nullptr) {
      temp = fixed_temp;
    } else {
      temp.clear();
      absl::StrAppend(&temp, ".", final, ".tmp.");
      AppendRandomHex(temp);
    }
    fd.reset(openat(dirfd, temp.c_str(), kFlags, 0600));
    if (fd.valid() || errno != EEXIST) break;
    // Taken: a random name is drawn again; a fixed one is our own leftover.
    if (fixed_temp != nullptr) unlinkat(dirfd, temp.c_str(), 0);
  }
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("create ", temp));
  if (access.group && (fchown(fd.get(), -1, *access.group) != 0 || fchmod(fd.get(), 0660) != 0)) {
    int err = errno;
    fd.reset();
    unlinkat(dirfd, temp.c_str(), 0);
    return ErrnoStatus(err, absl::StrCat("give ", temp, " to the --fs_group group"));
  }
  // writev may write less than asked (FUSE, signals); continue where it
  // stopped. The iovec array is copied only in that rare case.
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  ssize_t n = writev(fd.get(), iov.data(), static_cast<int>(iov.size()));
  int err = n < 0 ? errno : 0;
  if (n >= 0 && static_cast<size_t>(n) < total) {
    std::vector<iovec> rest(iov.begin(), iov.end());
    size_t done = n;
    size_t i = 0;
    while (err == 0 && done < total) {
      while (i < rest.size() && rest[i].iov_len <= static_cast<size_t>(n)) {
        n -= rest[i].iov_len;
        ++i;
      }
      rest[i].iov_base = static_cast<uint8_t*>(rest[i].iov_base) + n;
      rest[i].iov_len -= n;
      n = writev(fd.get(), rest.data() + i, static_cast<int>(rest.size() - i));
      if (n < 0) {
        if (errno == EINTR) {
          n = 0;
          continue;
        }
        err = errno;
      } else if (n == 0) {
        err = EIO;
      } else {
        done += n;
      }
    }
  }
  if (close(fd.release()) != 0 && err == 0) err = errno;  // NFS reports write errors at close
  if (err != 0) {
    unlinkat(dirfd, temp.c_str(), 0);
    return ErrnoStatus(err, absl::StrCat("write ", temp));
  }
  if (renameat(dirfd, temp.c_str(), dirfd, final) != 0) {
    err = errno;
    unlinkat(dirfd, temp.c_str(), 0);
    struct stat st;
    if (name_blocked != nullptr && fstatat(dirfd, final, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      *name_blocked = true;
    }
    return ErrnoStatus(err, absl::StrCat("rename to ", final));
  }
  return absl::OkStatus();
}

bool Exists(int dirfd, const char* name) {
  UniqueFd fd(openat(dirfd, name, kReadFlags));
  return fd.valid() || errno != ENOENT;
}

bool RemoveEntry(int dirfd, const char* name) {
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return true;
  if (errno == EISDIR || errno == EPERM) return unlinkat(dirfd, name, AT_REMOVEDIR) == 0;
  return false;
}

absl::StatusOr<int> OpenOrCreateDir(int parentfd, const char* name, const FolderAccess& access) {
  if (mkdirat(parentfd, name, 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("mkdir ", name));
  }
  UniqueFd fd(openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoStatus(errno,
                       absl::StrCat("open directory ", name, " (a symlink or not a directory?)"));
  }
  if (access.group) {
    struct stat st;
    // Only what this user owns (a peer's folder is its own business).
    if (fstat(fd.get(), &st) == 0 && st.st_uid == geteuid() &&
        (fchown(fd.get(), -1, *access.group) != 0 || fchmod(fd.get(), 0770) != 0)) {
      return ErrnoStatus(errno, absl::StrCat("give directory ", name, " to the --fs_group group"));
    }
  }
  return fd.release();
}

std::vector<std::string> ListDir(int dirfd) {
  std::vector<std::string> names;
  // A fresh descriptor per listing: the caller's fd position stays put and
  // the kernel re-reads the directory.
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return names;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return names;
  }
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  closedir(dir);
  return names;
}

std::string FilesystemType(int fd) {
  struct statfs s;
  if (fstatfs(fd, &s) != 0) return "unknown";
  switch (static_cast<uint64_t>(s.f_type)) {
    case TMPFS_MAGIC:
      return "tmpfs";
    case EXT4_SUPER_MAGIC:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case 0x65735546:
      return "fuse";
    case NFS_SUPER_MAGIC:
      return "nfs";
    case V9FS_MAGIC:
      return "9p";
    case 0x786F4256:
      return "vboxsf";
    case SMB_SUPER_MAGIC:
      return "smb";
    case 0xFF534D42:
      return "cifs";
    case 0xFE534D42:
      return "smb2";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlay";
    case 0x6a656a63:
      return "virtiofs?";
    default:
      return absl::StrFormat("0x%x", static_cast<uint64_t>(s.f_type));
  }
}

}  // namespace fstun::fs
