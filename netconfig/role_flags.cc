#include "netconfig/role_flags.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

DEFINE_string(routes, "",
              "client: route only these prefixes through the tunnel, CIDR[,CIDR...] "
              "(default: the default route goes through the tunnel)");
DEFINE_string(keep_route, "",
              "client: addresses that stay reachable outside the tunnel, ADDR[,ADDR...] "
              "(e.g. the server of a network share the transport uses)");
DEFINE_bool(cleanup, false,
            "restore what an fstun for --ifname that was killed left on the host, then exit");
DEFINE_string(state_dir, "/run/fstun",
              "directory of the state files that record what fstun changed on the host");

namespace fstun {

absl::StatusOr<RoleConfig> RoleConfigFromFlags(const std::string& role, const std::string& ifname,
                                               const std::vector<IpPrefix>& addresses, size_t mtu) {
  RoleConfig c;
  c.role = role;
  c.ifname = ifname;
  c.tunnel_prefixes = addresses;
  c.mtu = mtu;
  c.state_path = StatePathFromFlags(ifname);
  if (!FLAGS_routes.empty()) {
    absl::StatusOr<std::vector<IpPrefix>> routes = ParsePrefixList(FLAGS_routes);
    if (!routes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--routes: ", routes.status().message()));
    }
    c.split_routes = *routes;
  }
  for (absl::string_view text : absl::StrSplit(FLAGS_keep_route, ',', absl::SkipEmpty())) {
    absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
    if (!address.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--keep_route: ", address.status().message()));
    }
    c.keep_routes.push_back(*address);
  }
  absl::Status valid = ValidateRoleConfig(c);
  if (!valid.ok()) return valid;
  return c;
}

std::string StatePathFromFlags(const std::string& ifname) {
  return DefaultStatePath(ifname, FLAGS_state_dir);
}

absl::Status CleanupBeforeStart(const std::string& ifname) {
  return CleanupFromStateFile(StatePathFromFlags(ifname));
}

absl::Status RunCleanupCommand(const std::string& ifname) {
  std::string path = StatePathFromFlags(ifname);
  absl::StatusOr<HostState> state = StateFile::Read(path);
  if (absl::IsNotFound(state.status())) {
    CleanupFromStateFile(path).IgnoreError();  // removes an emptied file, if any
    std::cout << "fstun --cleanup: nothing to restore for " << ifname << " (no " << path << ")\n";
    return absl::OkStatus();
  }
  if (!state.ok()) return state.status();
  absl::Status s = CleanupFromStateFile(path);
  if (!s.ok()) return s;
  std::cout << "fstun --cleanup: restored " << state->changes.size() << " change(s) left by pid "
            << state->pid << " (" << state->role << " on " << ifname << "):\n";
  for (auto it = state->changes.rbegin(); it != state->changes.rend(); ++it) {
    std::cout << "  undid: " << DescribeChange(*it) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace fstun
