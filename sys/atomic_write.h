// WriteFileAtomically: replace (or create) a file so that a reader sees
// either the old contents or the new, never half a file: the contents go to
// a fresh temporary file next to it, which is then renamed over the name
// (or, for `replace = false`, linked to it, so an existing file is never
// overwritten and the name is claimed exclusively).
//
//   WriteFileAtomically(dir_fd, "tun0.state", text, {.mode = 0600,
//                       .replace = false, .durable = true});
//   WriteFileAtomically("/var/lib/node_exporter/fstun.prom", text,
//                       {.mode = 0644});
//
// The temporary name is ".<name>.tmp.<16 random hex digits>", created with
// O_CREAT|O_EXCL|O_NOFOLLOW: whoever else can write the directory cannot
// pre-create it, make it a symlink to a file we would then overwrite, or
// predict it. It never ends in the final name's suffix (".prom" collectors
// skip it). On any failure the temporary file is removed.
//
// Syscalls: getrandom, openat, fchmod, fchown (group), writev, fsync (durable), close,
// renameat or linkat+unlinkat, and for the path form open of the directory.
#ifndef FSTUN_SYS_ATOMIC_WRITE_H_
#define FSTUN_SYS_ATOMIC_WRITE_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fstun {

struct AtomicWriteOptions {
  mode_t mode = 0600;  // exactly this, whatever the umask
  // false: AlreadyExists if the name exists (an exclusive create).
  bool replace = true;
  // fsync the file before it gets its name and the directory after: the
  // new contents survive a power loss once this returns.
  bool durable = false;
  // Give the file to this group (fchown before it gets its name), e.g. a
  // folder shared through a group.
  std::optional<gid_t> group;
};

// `name` is one path component inside the directory `dir_fd`.
absl::Status WriteFileAtomically(int dir_fd, absl::string_view name, absl::string_view contents,
                                 const AtomicWriteOptions& options = {});
// The same for data in pieces (one writev, no copy; short writes resumed).
absl::Status WriteFileAtomically(int dir_fd, absl::string_view name, absl::Span<const iovec> data,
                                 const AtomicWriteOptions& options = {});
// The same for a path (its directory is opened first).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 const AtomicWriteOptions& options = {});

}  // namespace fstun

#endif  // FSTUN_SYS_ATOMIC_WRITE_H_
