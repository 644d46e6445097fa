// Careful file operations on a folder that other hosts (or attackers) also
// write: never follow a symlink, never block on a FIFO or device, bound
// every read, create everything owner-only, replace files atomically.
//
// All names are relative to a directory fd (openat family), so a component
// swapped for a symlink after start-up cannot redirect us elsewhere.
#ifndef FSTUN_TRANSPORTS_FS_FS_IO_H_
#define FSTUN_TRANSPORTS_FS_FS_IO_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sys/unique_fd.h"

namespace fstun::fs {

// A growable byte buffer that never zero-fills: reading a file into it
// costs the read, not a memset.
class ByteBuffer {
 public:
  // Ensures capacity() >= `capacity`; may discard the contents.
  uint8_t* Reserve(size_t capacity);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  void set_size(size_t n) { size_ = n; }
  size_t capacity() const { return capacity_; }
  absl::Span<const uint8_t> span() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

enum class ReadOutcome {
  kOk,
  kMissing,     // no such name (the common case: not written yet)
  kNotRegular,  // symlink, FIFO, device, directory, socket
  kTooLarge,    // larger than the caller's bound
  kError,       // any other errno (in `error`)
};

struct ReadResult {
  ReadOutcome outcome = ReadOutcome::kError;
  int error = 0;
};

// Reads the regular file `name` in `dirfd` into `buffer`, at most
// `max_bytes`. Re-opens by name every time (held handles go stale on
// network shares) and trusts read()'s EOF rather than fstat's size (which
// may be cached). Syscalls: openat, fstat, read (more only if the file is
// bigger than one request of the share, e.g. 9p's msize, or than fstat
// said), close. `keep_open` (on success): the file is left open there
// instead of closed, for a caller that removes the name next: on 9p with
// cache=none or mmap the kernel forgets a name at its last close, so an
// unlink after the close looks it up again (a walk, a getattr and a clunk
// per record), while one before the close finds it cached.
ReadResult ReadRegularFile(int dirfd, const char* name, size_t max_bytes, ByteBuffer& buffer,
                           UniqueFd* keep_open = nullptr);

// Who may use what fstun creates in the folder: the owner only (0700 / 0600,
// the default), or also a group (--fs_group: 0770 / 0660 and that group),
// for folders that are shared through a group.
struct FolderAccess {
  std::optional<gid_t> group;
};

// Writes `iov` to a fresh temp file and renames it to `final`, replacing
// any file there: the data path's writer (records, legacy packets). The temp
// name is "." + final + ".tmp." + 16 random hex digits (the shape
// sys/atomic_write.h uses), created O_EXCL|O_NOFOLLOW 0600 and drawn again
// if taken, so nobody who writes the folder can squat it in advance;
// `fixed_temp` overrides it where a format prescribes the temp name (legacy:
// "_" + name). Unlike sys/atomic_write.h it makes no fchmod (0600 at create
// is exact) and no copy of the iovecs: on FUSE and network shares each
// extra call is a round trip per record. On failure the temp is removed and
// the errno comes back as a status; `name_blocked` tells whether `final` is
// occupied by something a rename cannot replace (a directory someone put
// there), so the caller can use another name instead of retrying.
absl::Status WriteRecordFile(int dirfd, const char* final, absl::Span<const iovec> iov,
                             const FolderAccess& access = {}, bool* name_blocked = nullptr,
                             const char* fixed_temp = nullptr);

// Whether `name` exists, by opening it (never by cached attributes).
bool Exists(int dirfd, const char* name);

// unlink, or rmdir if `name` is an (empty) directory. False if it remains
// (a non-empty directory, or no permission): callers treat such an entry
// as if the name were free, since nothing we write can ever land there.
bool RemoveEntry(int dirfd, const char* name);

// Creates `name` in `parentfd` (mode 0700) if missing and opens it as a
// directory without following symlinks.
absl::StatusOr<int> OpenOrCreateDir(int parentfd, const char* name,
                                    const FolderAccess& access = {});

// Names in a directory except "." and "..". A listing may be stale on
// network shares: use it only for discovery and garbage collection.
std::vector<std::string> ListDir(int dirfd);

// The filesystem type of `fd` as a short name ("tmpfs", "ext4", "fuse",
// "nfs", "9p", "vboxsf", ...), or its statfs magic in hex.
std::string FilesystemType(int fd);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_FS_IO_H_
