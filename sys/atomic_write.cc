// Theory of operation: temp file (random name, O_EXCL|O_NOFOLLOW) -> write
// everything -> optional fsync -> publish with renameat (replace) or linkat
// (exclusive create; EEXIST means the name is taken) -> remove the temp name
// -> optional fsync of the directory. Errors carry the path and errno text.
#include "sys/atomic_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "sys/unique_fd.h"

namespace fstun {
namespace {

std::string RandomHex() {
  unsigned char bytes[8] = {};
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // cannot happen after boot; the name is still O_EXCL
    got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::Status ErrnoError(int err, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == EACCES || err == EPERM || err == EROFS) return absl::PermissionDeniedError(msg);
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(msg);
  if (err == EEXIST) return absl::AlreadyExistsError(msg);
  return absl::InternalError(msg);
}

// writev until everything is written (FUSE and signals may cut it short).
absl::Status WriteAll(int fd, absl::Span<const iovec> data) {
  std::vector<iovec> rest(data.begin(), data.end());
  size_t i = 0;
  while (i < rest.size()) {
    if (rest[i].iov_len == 0) {
      ++i;
      continue;
    }
    ssize_t n =
        writev(fd, rest.data() + i, static_cast<int>(std::min<size_t>(rest.size() - i, IOV_MAX)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "write");
    if (n == 0) return ErrnoError(EIO, "write");
    size_t done = static_cast<size_t>(n);
    while (i < rest.size() && done >= rest[i].iov_len) {
      done -= rest[i].iov_len;
      ++i;
    }
    if (i < rest.size()) {
      rest[i].iov_base = static_cast<char*>(rest[i].iov_base) + done;
      rest[i].iov_len -= done;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(int dir_fd, absl::string_view name, absl::string_view contents,
                                 const AtomicWriteOptions& options) {
  iovec one = {const_cast<char*>(contents.data()), contents.size()};
  return WriteFileAtomically(dir_fd, name, absl::Span<const iovec>(&one, 1), options);
}

absl::Status WriteFileAtomically(int dir_fd, absl::string_view name, absl::Span<const iovec> data,
                                 const AtomicWriteOptions& options) {
  const std::string final_name(name);
  if (final_name.empty() || final_name.find('/') != std::string::npos || final_name == "." ||
      final_name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("'", final_name, "' is not a file name"));
  }
  std::string temp;
  UniqueFd fd;
  for (int attempt = 0; attempt < 4 && !fd.valid(); ++attempt) {
    temp = absl::StrCat(".", final_name, ".tmp.", RandomHex());
    fd.reset(openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    options.mode));
    if (!fd.valid() && errno != EEXIST) return ErrnoError(errno, absl::StrCat("create ", temp));
  }
  if (!fd.valid()) return ErrnoError(EEXIST, absl::StrCat("create ", temp));

  absl::Status s;
  if (options.group && fchown(fd.get(), static_cast<uid_t>(-1), *options.group) != 0) {
    s = ErrnoError(errno, absl::StrCat("give ", temp, " to group ", *options.group));
  }
  if (s.ok() && fchmod(fd.get(), options.mode) != 0) {
    s = ErrnoError(errno, absl::StrCat("chmod ", temp));
  }
  if (s.ok()) s = WriteAll(fd.get(), data);
  if (s.ok() && options.durable && fsync(fd.get()) != 0) s = ErrnoError(errno, "fsync");
  // close() reports delayed write errors on network filesystems.
  if (close(fd.release()) != 0 && s.ok()) s = ErrnoError(errno, "close");
  if (!s.ok()) {
    unlinkat(dir_fd, temp.c_str(), 0);
    return absl::Status(s.code(), absl::StrCat("writing ", temp, ": ", s.message()));
  }

  if (options.replace) {
    if (renameat(dir_fd, temp.c_str(), dir_fd, final_name.c_str()) != 0) {
      int err = errno;
      unlinkat(dir_fd, temp.c_str(), 0);
      return ErrnoError(err, absl::StrCat("replace ", final_name));
    }
  } else {
    int rc = linkat(dir_fd, temp.c_str(), dir_fd, final_name.c_str(), 0);
    int err = errno;
    unlinkat(dir_fd, temp.c_str(), 0);
    if (rc != 0) return ErrnoError(err, absl::StrCat("create ", final_name));
  }
  if (options.durable) fsync(dir_fd);  // the new name, durable
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 const AtomicWriteOptions& options) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return ErrnoError(errno, absl::StrCat("open directory ", dir));
  absl::Status s = WriteFileAtomically(dir_fd.get(), name, contents, options);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  return s;
}

}  // namespace fstun
