#include "ops/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace fstun {

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  std::string tmp = absl::StrCat(path, ".", getpid(), ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", strerror(errno)));
  while (!contents.empty()) {
    ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      unlink(tmp.c_str());
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", strerror(err)));
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  fchmod(fd, 0644);  // whatever the umask; metrics are not secret
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot replace ", path, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace fstun
