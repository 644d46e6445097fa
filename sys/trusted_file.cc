// Theory of operation: the path is resolved once (realpath), then opened
// component by component with openat(O_DIRECTORY|O_NOFOLLOW) from "/",
// checking each directory's owner and mode with fstat on the fd just opened.
// Files are opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat before
// a single bounded read loop; the size limit is enforced on the bytes read,
// not on st_size alone (a file may grow between fstat and read).
#include "sys/trusted_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace fstun {
namespace {

bool TrustedOwner(uid_t uid) { return uid == 0 || uid == geteuid(); }

std::string Mode(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

absl::Status CheckDirectory(const struct stat& st, const std::string& shown, absl::string_view what,
                            const std::string& full) {
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", full, ": ", shown, " is not a directory"));
  }
  if (!TrustedOwner(st.st_uid)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", full, ": ", shown, " belongs to uid ", st.st_uid,
        "; fstun acts as root on what it finds there, so only root may own and write it"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", full, ": ", shown, " is writable by group or others (mode ", Mode(st.st_mode),
        "); fstun acts as root on what it finds there, so only root may write it"));
  }
  return absl::OkStatus();
}

// realpath() of the longest existing prefix of `path`, plus the missing rest.
std::string Resolve(const std::string& path, std::vector<std::string>& missing) {
  std::string existing = path;
  while (true) {
    char buf[PATH_MAX];
    if (realpath(existing.c_str(), buf) != nullptr) return buf;
    size_t slash = existing.find_last_of('/');
    if (errno != ENOENT || slash == std::string::npos) return "";
    missing.insert(missing.begin(), existing.substr(slash + 1));
    existing = slash == 0 ? "/" : existing.substr(0, slash);
  }
}

}  // namespace

absl::StatusOr<UniqueFd> OpenTrustedDirectory(const std::string& path, absl::string_view what,
                                              const TrustedDirectoryOptions& options) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty path"));
  std::string absolute = path;
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::InternalError(absl::StrCat(what, " ", path, ": getcwd: ", strerror(errno)));
    }
    absolute = absl::StrCat(cwd, "/", path);
  }
  std::vector<std::string> missing;
  std::string resolved = Resolve(absolute, missing);
  if (resolved.empty()) {
    return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(errno)));
  }
  if (!missing.empty() && !options.create) {
    return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
  }

  UniqueFd fd(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("open /: ", strerror(errno)));
  std::string shown = "/";
  auto check = [&]() -> absl::Status {
    struct stat st = {};
    if (fstat(fd.get(), &st) != 0) {
      return absl::InternalError(
          absl::StrCat(what, " ", path, ": stat ", shown, ": ", strerror(errno)));
    }
    return CheckDirectory(st, shown, what, path);
  };
  if (absl::Status s = check(); !s.ok()) return s;

  std::vector<std::string> components = absl::StrSplit(resolved, '/', absl::SkipEmpty());
  size_t existing = components.size();
  components.insert(components.end(), missing.begin(), missing.end());
  for (size_t i = 0; i < components.size(); ++i) {
    const std::string& c = components[i];
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": '..' in the path"));
    }
    shown = shown == "/" ? absl::StrCat("/", c) : absl::StrCat(shown, "/", c);
    if (i >= existing && mkdirat(fd.get(), c.c_str(), options.create_mode) != 0 &&
        errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", what, " ", shown, ": ", strerror(errno)));
    }
    UniqueFd next(openat(fd.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      int err = errno;
      if (err == ENOENT)
        return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
      if (err == ELOOP || err == ENOTDIR) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, " ", path, ": ", shown, " changed into a symlink or file while being opened"));
      }
      return absl::PermissionDeniedError(
          absl::StrCat("cannot open ", what, " ", shown, ": ", strerror(err)));
    }
    fd = std::move(next);
    if (absl::Status s = check(); !s.ok()) return s;
  }
  return fd;
}

absl::StatusOr<std::string> ReadTrustedFile(int dir_fd, absl::string_view name, size_t max_bytes,
                                            absl::string_view what, absl::string_view shown_path) {
  const std::string n(name);
  UniqueFd fd(openat(dir_fd, n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("no ", what, " ", shown_path));
    if (err == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " ", shown_path, " is a symlink; refusing to follow it"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read ", what, " ", shown_path, ": ", strerror(err)));
  }
  struct stat st = {};
  if (fstat(fd.get(), &st) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot stat ", what, " ", shown_path, ": ", strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", shown_path,
                     " is not a regular file (a FIFO, device, socket or "
                     "directory); refusing to read it"));
  }
  if (!TrustedOwner(st.st_uid)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", shown_path, " belongs to uid ", st.st_uid,
                     ", not root; fstun would act as root on it, so it refuses"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", shown_path,
                                                      " is writable by group or others (mode ",
                                                      Mode(st.st_mode), "); refusing it"));
  }
  auto too_large = [&]() {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", shown_path, " is larger than ", max_bytes, " bytes; refusing it"));
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
  std::string text(max_bytes + 1, '\0');
  size_t have = 0;
  while (have < text.size()) {
    ssize_t r = read(fd.get(), text.data() + have, text.size() - have);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      return absl::InternalError(
          absl::StrCat("cannot read ", what, " ", shown_path, ": ", strerror(errno)));
    }
    if (r == 0) break;
    have += static_cast<size_t>(r);
  }
  if (have > max_bytes) return too_large();
  text.resize(have);
  return text;
}

}  // namespace fstun
