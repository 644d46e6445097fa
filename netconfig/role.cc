#include "netconfig/role.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "netconfig/forwarding.h"
#include "netconfig/interface_name.h"
#include "netconfig/nat.h"
#include "netconfig/netlink_route_table.h"
#include "netconfig/routes.h"
#include "sys/log_escape.h"

namespace fstun {
namespace {

bool HasFamily(const std::vector<IpPrefix>& prefixes, int family) {
  for (const IpPrefix& p : prefixes) {
    if (p.address.family == family) return true;
  }
  return false;
}

// Undoes `changes` newest first; keeps going past failures and returns the
// first one.
absl::Status UndoChanges(const std::vector<HostChange>& changes, const std::string& sysctl_root) {
  Sysctl sysctl(sysctl_root);
  std::unique_ptr<NetlinkRouteTable> routes;
  auto route_table = [&]() -> absl::StatusOr<NetlinkRouteTable*> {
    if (!routes) {
      absl::StatusOr<std::unique_ptr<NetlinkRouteTable>> opened = NetlinkRouteTable::Open();
      if (!opened.ok()) return opened.status();
      routes = std::move(*opened);
    }
    return routes.get();
  };
  struct Undo {
    const Sysctl& sysctl;
    decltype(route_table)& table;
    absl::Status operator()(const SysctlChange& c) const { return RestoreSysctl(sysctl, c); }
    absl::Status operator()(const NftTableChange& c) const { return DeleteNftTable(c); }
    absl::Status operator()(const RouteChange& c) const {
      absl::StatusOr<NetlinkRouteTable*> t = table();
      if (!t.ok()) return t.status();
      return UndoRouteChange(**t, c);
    }
  };
  absl::Status first;
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    absl::Status s = std::visit(Undo{sysctl, route_table}, *it);
    if (s.ok()) {
      VLOG(1) << "restored: " << DescribeChange(*it);
    } else {
      LOG(ERROR) << "could not restore " << DescribeChange(*it) << ": " << s.message();
      if (first.ok()) first = s;
    }
  }
  return first;
}

absl::Status ValidIfname(const std::string& ifname) {
  if (ifname.empty() || ifname.size() > kMaxInterfaceNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ifname='", EscapeForLog(ifname, 64), "': must be 1 to 15 characters"));
  }
  if (!IsFstunInterfaceName(ifname)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--ifname='", EscapeForLog(ifname, 64), "': use letters, digits, '_', '-' and '.' only"));
  }
  return absl::OkStatus();
}

absl::Status Apply(const RoleConfig& config, StateFile& journal) {
  if (config.role == "server") {
    NatConfig nat{config.ifname, config.tunnel_prefixes, config.mtu};
    // NAT before forwarding: a host must never forward the tunnel un-NATed.
    absl::Status s = InstallNat(nat, journal);
    if (!s.ok()) return s;
    Sysctl sysctl(config.sysctl_root);
    for (int family : {4, 6}) {
      if (!HasFamily(config.tunnel_prefixes, family)) continue;
      s = EnableForwarding(sysctl, family, journal);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<NetlinkRouteTable>> table = NetlinkRouteTable::Open();
  if (!table.ok()) return table.status();
  ClientRouting routing{config.ifname, config.tunnel_prefixes, config.split_routes,
                        config.keep_routes};
  return RouteThroughTunnel(**table, routing, journal);
}

}  // namespace

absl::Status ValidateRoleConfig(const RoleConfig& c) {
  if (c.role != "server" && c.role != "client" && c.role != "none" && !c.role.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--role='", c.role, "': must be server, client or none"));
  }
  absl::Status s = ValidIfname(c.ifname);
  if (!s.ok()) return s;
  if (c.role != "client" && (!c.split_routes.empty() || !c.keep_routes.empty())) {
    return absl::InvalidArgumentError("--routes and --keep_route apply to --role=client only");
  }
  if (c.role == "server" && c.tunnel_prefixes.empty()) {
    return absl::InvalidArgumentError("the server role needs a tunnel address (--ip)");
  }
  if (c.role == "client") {
    return ValidateClientRouting(
        ClientRouting{c.ifname, c.tunnel_prefixes, c.split_routes, c.keep_routes});
  }
  return absl::OkStatus();
}

RoleSetup::~RoleSetup() {
  absl::Status s = Restore();
  if (!s.ok()) LOG(ERROR) << "restoring the host failed: " << s.message();
}

absl::Status RoleSetup::Restore() {
  if (!journal_) return absl::OkStatus();
  absl::Status s = UndoChanges(journal_->state().changes, sysctl_root_);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), " (state kept in ", state_path_,
                                               "; retry with fstun --cleanup)"));
  }
  s = journal_->Remove();
  if (!s.ok()) return s;
  journal_.reset();
  return absl::OkStatus();
}

std::vector<std::string> RoleSetup::Changes() const {
  std::vector<std::string> out;
  if (!journal_) return out;
  for (const HostChange& c : journal_->state().changes) out.push_back(DescribeChange(c));
  return out;
}

absl::StatusOr<std::unique_ptr<RoleSetup>> ApplyRole(const RoleConfig& config) {
  absl::Status valid = ValidateRoleConfig(config);
  if (!valid.ok()) return valid;
  if (config.role.empty() || config.role == "none") {
    return std::unique_ptr<RoleSetup>(new RoleSetup(config.sysctl_root, nullptr));
  }
  std::string path =
      config.state_path.empty() ? DefaultStatePath(config.ifname) : config.state_path;

  absl::StatusOr<std::unique_ptr<StateFile>> journal =
      StateFile::Create(path, OwnerForThisProcess(config.ifname, config.role));
  if (absl::IsAlreadyExists(journal.status())) {
    absl::Status cleaned = CleanupFromStateFile(path, config.sysctl_root);
    if (!cleaned.ok()) return cleaned;
    journal = StateFile::Create(path, OwnerForThisProcess(config.ifname, config.role));
  }
  if (!journal.ok()) return journal.status();

  std::unique_ptr<RoleSetup> setup(new RoleSetup(config.sysctl_root, std::move(*journal)));
  absl::Status applied = Apply(config, *setup->journal_);
  if (!applied.ok()) {
    absl::Status undone = setup->Restore();
    if (!undone.ok()) {
      LOG(ERROR) << "rolling back after a failed set-up also failed: " << undone.message();
    }
    return applied;
  }
  for (const std::string& line : setup->Changes()) LOG(INFO) << "host change: " << line;
  return setup;
}

absl::Status CleanupFromStateFile(const std::string& path, const std::string& sysctl_root) {
  absl::StatusOr<HostState> state = StateFile::Read(path);
  if (absl::IsNotFound(state.status())) {
    // An emptied file, if any: harmless if it stays (e.g. a read-only /run).
    if (absl::Status s = StateFile::Delete(path); !s.ok()) VLOG(1) << s.message();
    return absl::OkStatus();
  }
  if (!state.ok()) return state.status();
  if (ProcessIsAlive(state->pid, state->start_time)) {
    return absl::AlreadyExistsError(
        absl::StrCat("fstun (pid ", state->pid, ") is already running for interface ",
                     state->ifname, " (state file ", path, "); stop it first"));
  }
  LOG(WARNING) << "restoring what fstun (pid " << state->pid << ", " << state->role << " on "
               << state->ifname << ") changed and did not restore: " << state->changes.size()
               << " change(s) from " << path;
  absl::Status s = UndoChanges(state->changes, sysctl_root);
  if (!s.ok()) return s;
  return StateFile::Delete(path);
}

}  // namespace fstun
