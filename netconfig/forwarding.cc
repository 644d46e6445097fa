#include "netconfig/forwarding.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "sys/unique_fd.h"

namespace fstun {
namespace {

absl::Status ErrnoStatus(int err, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM || err == EROFS) {
    return absl::PermissionDeniedError(absl::StrCat(msg, " (fstun needs root / CAP_NET_ADMIN)"));
  }
  return absl::InternalError(msg);
}

}  // namespace

absl::StatusOr<std::string> Sysctl::Read(absl::string_view path) const {
  std::string full = absl::StrCat(root_, "/", path);
  UniqueFd fd(open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("cannot read ", full));
  char buf[256];
  ssize_t n = read(fd.get(), buf, sizeof(buf));
  if (n < 0) return ErrnoStatus(errno, absl::StrCat("cannot read ", full));
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))));
}

absl::Status Sysctl::Write(absl::string_view path, absl::string_view value) const {
  std::string full = absl::StrCat(root_, "/", path);
  // O_TRUNC lets the fake tree of plain files behave like /proc/sys.
  UniqueFd fd(open(full.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("cannot write ", full));
  std::string line = absl::StrCat(value, "\n");
  ssize_t n = write(fd.get(), line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO, absl::StrCat("cannot write ", full));
  }
  return absl::OkStatus();
}

std::vector<std::string> Sysctl::List(absl::string_view path) const {
  std::vector<std::string> names;
  std::string full = absl::StrCat(root_, "/", path);
  DIR* dir = opendir(full.c_str());
  if (dir == nullptr) return names;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ForwardingSysctl(int family) {
  return family == 4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
}

absl::Status EnableForwarding(const Sysctl& sysctl, int family, StateFile& journal) {
  std::string global = ForwardingSysctl(family);
  absl::StatusOr<std::string> current = sysctl.Read(global);
  if (!current.ok()) return current.status();
  if (*current != "0") return absl::OkStatus();  // on already: leave it, record nothing

  // Per-interface values first, "all" and the global last: Restore undoes in
  // reverse, so the global (which overwrites every interface) goes back
  // first and the per-interface values after it.
  std::string conf = family == 4 ? "net/ipv4/conf" : "net/ipv6/conf";
  std::vector<std::string> names = sysctl.List(conf);
  // "default" and "all" after the interfaces, "all" last of them.
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != "default" && n != "all"; });
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != "all"; });
  for (const std::string& name : names) {
    std::string path = absl::StrCat(conf, "/", name, "/forwarding");
    if (path == global) continue;
    absl::StatusOr<std::string> value = sysctl.Read(path);
    if (!value.ok()) continue;  // an interface that just went away
    absl::Status recorded = journal.Record(SysctlChange{path, *value});
    if (!recorded.ok()) return recorded;
  }
  absl::Status recorded = journal.Record(SysctlChange{global, *current});
  if (!recorded.ok()) return recorded;
  return sysctl.Write(global, "1");
}

absl::Status RestoreSysctl(const Sysctl& sysctl, const SysctlChange& change) {
  absl::StatusOr<std::string> now = sysctl.Read(change.path);
  if (absl::IsNotFound(now.status())) return absl::OkStatus();
  if (now.ok() && *now == change.previous) return absl::OkStatus();
  absl::Status s = sysctl.Write(change.path, change.previous);
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

}  // namespace fstun
