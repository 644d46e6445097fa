// Which interface names fstun accepts, in one place:
//   * IsKernelInterfaceName: what Linux allows (dev_valid_name: 1 to 15
//     bytes, not "." or "..", no '/', ':' or whitespace), restricted to
//     printable ASCII. Names fstun reads back from its state file (sysctl
//     paths under net/ipv4/conf/<name>/, a removed route's device) must be
//     of this kind, so a crafted name cannot climb out of /proc/sys.
//   * IsFstunInterfaceName: what --ifname accepts (letters, digits, '_',
//     '-', '.'), a subset that nft table names and file names can carry.
#ifndef FSTUN_NETCONFIG_INTERFACE_NAME_H_
#define FSTUN_NETCONFIG_INTERFACE_NAME_H_

#include "absl/strings/string_view.h"

namespace fstun {

inline constexpr size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1

bool IsKernelInterfaceName(absl::string_view name);
bool IsFstunInterfaceName(absl::string_view name);

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_INTERFACE_NAME_H_
