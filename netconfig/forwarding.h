// Forwarding: turning on IP forwarding for the server role, recording every
// value it overwrites so Restore puts back exactly what was there.
//
// Writing net/ipv4/ip_forward (or net/ipv6/conf/all/forwarding) makes the
// kernel copy the value into every interface's conf/<if>/forwarding and
// conf/default/forwarding. So before writing, fstun records the global value
// AND each per-interface value; restoring the global value first and the
// per-interface ones after reproduces a host where forwarding was on for only
// some interfaces. Forwarding that was already on is left alone and nothing
// is recorded ("leave on if it was on before").
#ifndef FSTUN_NETCONFIG_FORWARDING_H_
#define FSTUN_NETCONFIG_FORWARDING_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netconfig/state_file.h"

namespace fstun {

// Reads and writes /proc/sys; `root` is replaceable so unit tests can use a
// fake tree of plain files.
class Sysctl {
 public:
  explicit Sysctl(std::string root = "/proc/sys") : root_(std::move(root)) {}

  // The value without its trailing newline. NotFound if the entry is absent.
  absl::StatusOr<std::string> Read(absl::string_view path) const;
  // NotFound if the entry is absent.
  absl::Status Write(absl::string_view path, absl::string_view value) const;
  // Names of the subdirectories of `path` (e.g. the interfaces under
  // net/ipv4/conf), sorted.
  std::vector<std::string> List(absl::string_view path) const;

 private:
  std::string root_;
};

// The global sysctl for `family` (4 or 6).
std::string ForwardingSysctl(int family);

// Enables forwarding for `family`, recording previous values in `journal`
// before writing. No-op if forwarding is already on.
absl::Status EnableForwarding(const Sysctl& sysctl, int family, StateFile& journal);

// Undoes one recorded sysctl change. An entry that disappeared (the TUN's own
// conf/<tun>/forwarding after the TUN is gone) is fine.
absl::Status RestoreSysctl(const Sysctl& sysctl, const SysctlChange& change);

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_FORWARDING_H_
