// NetlinkRouteTable: the RouteTable of the calling thread's network
// namespace, through rtnetlink (netlink/rtnetlink.h). Device names are
// looked up per call, so a recorded route names its interface, not an index
// that may be reused.
#ifndef FSTUN_NETCONFIG_NETLINK_ROUTE_TABLE_H_
#define FSTUN_NETCONFIG_NETLINK_ROUTE_TABLE_H_

#include <memory>

#include "netconfig/routes.h"
#include "netlink/rtnetlink.h"

namespace fstun {

class NetlinkRouteTable : public RouteTable {
 public:
  static absl::StatusOr<std::unique_ptr<NetlinkRouteTable>> Open();

  absl::StatusOr<std::vector<HostRoute>> List(int family) override;
  absl::Status Add(const HostRoute& route) override;
  absl::Status Delete(const HostRoute& route) override;

 private:
  explicit NetlinkRouteTable(std::unique_ptr<RtNetlink> netlink) : netlink_(std::move(netlink)) {}
  absl::StatusOr<Route> ToKernel(const HostRoute& route);

  std::unique_ptr<RtNetlink> netlink_;
};

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_NETLINK_ROUTE_TABLE_H_
