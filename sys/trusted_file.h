// Reading a file that a privileged process will act on (fstun's state file:
// it names sysctls to write and nftables tables to delete, as root). Such a
// file is only as trustworthy as everyone who could have written it, so:
//
//   * OpenTrustedDirectory walks the directory path from "/" down, without
//     following symlinks after resolving the path once, and refuses any
//     component not owned by root (or the effective uid) or writable by group
//     or others (unless sticky, as /tmp: there nobody may rename another
//     user's entry). The returned fd pins the directory: later calls work
//     relative to it, so a path swapped afterwards changes nothing.
//   * ReadTrustedFile opens a name in that directory with O_NOFOLLOW and
//     O_NONBLOCK (a FIFO cannot hang us), and refuses anything but a regular
//     file owned by root (or the effective uid), not writable by group or
//     others, of at most `max_bytes`.
//
//   absl::StatusOr<UniqueFd> dir = OpenTrustedDirectory("/run/fstun",
//                                                       "state directory");
//   absl::StatusOr<std::string> text =
//       ReadTrustedFile(dir->get(), "tun0.state", 1 << 20, "state file");
//
// Errors are one line naming the path and what is wrong with it
// (FailedPrecondition), NotFound if the file or directory does not exist.
#ifndef FSTUN_SYS_TRUSTED_FILE_H_
#define FSTUN_SYS_TRUSTED_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sys/unique_fd.h"

namespace fstun {

struct TrustedDirectoryOptions {
  // Create missing components (mode `create_mode`) on the way down.
  bool create = false;
  mode_t create_mode = 0700;
};

// `what` names the directory in errors ("state directory").
absl::StatusOr<UniqueFd> OpenTrustedDirectory(const std::string& path, absl::string_view what,
                                              const TrustedDirectoryOptions& options = {});

// `dir_fd` from OpenTrustedDirectory; `name` one component. `what` names the
// file in errors ("state file"); `shown_path` is the path errors show.
absl::StatusOr<std::string> ReadTrustedFile(int dir_fd, absl::string_view name, size_t max_bytes,
                                            absl::string_view what, absl::string_view shown_path);

}  // namespace fstun

#endif  // FSTUN_SYS_TRUSTED_FILE_H_
