#include "netconfig/netlink_route_table.h"

#include "absl/strings/str_cat.h"

namespace fstun {

absl::StatusOr<std::unique_ptr<NetlinkRouteTable>> NetlinkRouteTable::Open() {
  absl::StatusOr<std::unique_ptr<RtNetlink>> netlink = RtNetlink::Open();
  if (!netlink.ok()) return netlink.status();
  return std::unique_ptr<NetlinkRouteTable>(new NetlinkRouteTable(std::move(*netlink)));
}

absl::StatusOr<std::vector<HostRoute>> NetlinkRouteTable::List(int family) {
  absl::StatusOr<std::vector<Route>> routes = netlink_->ListRoutes(family);
  if (!routes.ok()) return routes.status();
  std::vector<HostRoute> out;
  for (const Route& r : *routes) {
    HostRoute h;
    h.destination = r.destination.Network();
    h.gateway = r.gateway;
    h.metric = r.metric;
    h.table = r.table;
    h.protocol = r.protocol;
    if (r.ifindex != 0) {
      absl::StatusOr<LinkInfo> link = netlink_->GetLink(r.ifindex);
      if (!link.ok()) continue;  // went away while we listed
      h.device = link->name;
    }
    out.push_back(std::move(h));
  }
  return out;
}

absl::StatusOr<Route> NetlinkRouteTable::ToKernel(const HostRoute& h) {
  Route r;
  r.destination = h.destination;
  r.gateway = h.gateway;
  r.metric = h.metric;
  r.table = h.table;
  r.protocol = h.protocol;
  if (!h.device.empty()) {
    absl::StatusOr<int> index = netlink_->LinkIndex(h.device);
    if (!index.ok()) {
      return absl::NotFoundError(absl::StrCat("interface ", h.device, " does not exist"));
    }
    r.ifindex = *index;
  }
  return r;
}

absl::Status NetlinkRouteTable::Add(const HostRoute& route) {
  absl::StatusOr<Route> r = ToKernel(route);
  if (!r.ok()) return r.status();
  return netlink_->AddRoute(*r);
}

absl::Status NetlinkRouteTable::Delete(const HostRoute& route) {
  absl::StatusOr<Route> r = ToKernel(route);
  if (!r.ok()) return r.status();
  return netlink_->DeleteRoute(*r);
}

}  // namespace fstun
