#include "netconfig/routes.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace fstun {
namespace {

bool Carries(const ClientRouting& r, int family) {
  for (const IpPrefix& p : r.tunnel_prefixes) {
    if (p.address.family == family) return true;
  }
  return false;
}

HostRoute ThroughTunnel(const ClientRouting& r, const IpPrefix& destination) {
  HostRoute route;
  route.destination = destination.Network();
  route.device = r.ifname;
  route.metric = kTunnelRouteMetric;
  return route;
}

absl::Status AddRecorded(RouteTable& table, const HostRoute& route, StateFile& journal) {
  absl::Status s = journal.Record(RouteChange{RouteChange::Kind::kAdded, route});
  if (!s.ok()) return s;
  s = table.Add(route);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("cannot add route ", route.Describe(), ": ", s.message()));
  }
  LOG(INFO) << "added route " << route.Describe();
  return absl::OkStatus();
}

// A host route for `address` through the route that reaches it now.
absl::Status KeepOutsideTunnel(RouteTable& table, const ClientRouting& r, const IpAddress& address,
                               StateFile& journal) {
  absl::StatusOr<std::vector<HostRoute>> routes = table.List(address.family);
  if (!routes.ok()) return routes.status();
  const HostRoute* best = nullptr;
  for (const HostRoute& route : *routes) {
    if (route.device == r.ifname || !route.destination.Contains(address)) continue;
    if (best == nullptr || route.destination.length > best->destination.length ||
        (route.destination.length == best->destination.length && route.metric < best->metric)) {
      best = &route;
    }
  }
  if (best == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("--keep_route=", address.ToString(),
                                                      ": no route reaches it outside the tunnel"));
  }
  int host_length = address.is_v4() ? 32 : 128;
  if (best->destination.length == host_length) return absl::OkStatus();  // kept already
  HostRoute host = *best;
  host.destination = IpPrefix{address, host_length};
  return AddRecorded(table, host, journal);
}

}  // namespace

absl::Status ValidateClientRouting(const ClientRouting& r) {
  if (r.tunnel_prefixes.empty()) {
    return absl::InvalidArgumentError("the client role needs a tunnel address (--ip)");
  }
  for (const IpPrefix& p : r.split_routes) {
    if (!Carries(r, p.address.family)) {
      return absl::InvalidArgumentError(absl::StrCat("--routes: ", p.ToString(), " is IPv",
                                                     p.address.family, " but the tunnel has no IPv",
                                                     p.address.family, " address (--ip)"));
    }
  }
  return absl::OkStatus();
}

absl::Status RouteThroughTunnel(RouteTable& table, const ClientRouting& r, StateFile& journal) {
  absl::Status valid = ValidateClientRouting(r);
  if (!valid.ok()) return valid;

  // Keep routes first: they copy the routes (usually the default) that the
  // next steps take away.
  for (const IpAddress& address : r.keep_routes) {
    absl::Status s = KeepOutsideTunnel(table, r, address, journal);
    if (!s.ok()) return s;
  }

  if (!r.split_routes.empty()) {
    for (const IpPrefix& prefix : r.split_routes) {
      absl::Status s = AddRecorded(table, ThroughTunnel(r, prefix), journal);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  for (int family : {4, 6}) {
    if (!Carries(r, family)) {
      if (family == 6) LOG(INFO) << "the tunnel has no IPv6 address: IPv6 keeps its own routes";
      continue;
    }
    absl::StatusOr<std::vector<HostRoute>> routes = table.List(family);
    if (!routes.ok()) return routes.status();
    for (const HostRoute& route : *routes) {
      if (!route.is_default() || route.device == r.ifname) continue;
      absl::Status s = journal.Record(RouteChange{RouteChange::Kind::kRemoved, route});
      if (!s.ok()) return s;
      s = table.Delete(route);
      if (!s.ok() && !absl::IsNotFound(s)) {
        return absl::Status(s.code(), absl::StrCat("cannot remove default route ", route.Describe(),
                                                   ": ", s.message()));
      }
      LOG(INFO) << "removed default route " << route.Describe() << " (restored on exit)";
    }
    IpPrefix any{IpAddress{}, 0};
    any.address.family = family;
    absl::Status s = AddRecorded(table, ThroughTunnel(r, any), journal);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status UndoRouteChange(RouteTable& table, const RouteChange& change) {
  if (change.kind == RouteChange::Kind::kAdded) {
    absl::Status s = table.Delete(change.route);
    if (s.ok() || absl::IsNotFound(s)) return absl::OkStatus();
    return absl::Status(
        s.code(), absl::StrCat("cannot delete route ", change.route.Describe(), ": ", s.message()));
  }
  absl::Status s = table.Add(change.route);
  if (s.ok() || absl::IsAlreadyExists(s)) return absl::OkStatus();
  return absl::Status(
      s.code(), absl::StrCat("cannot restore route ", change.route.Describe(), ": ", s.message()));
}

}  // namespace fstun
