// Routes: the client role's routing changes.
//
// By default the client's default route(s) go through the tunnel: each
// existing default route of a family the tunnel carries is recorded and
// removed, then `default dev <tun> metric 1` is added (metric 1 so that a
// default route a DHCP client or a router advertisement adds back later
// still loses to the tunnel's). With `--routes=CIDR,...` only those
// prefixes go through the tunnel and the default routes are left alone.
//
// Anything the transport itself needs to reach must not be routed into the
// tunnel it carries: `--keep_route=ADDR,...` adds a host route for each
// address through whatever route reaches it now (e.g. the server of a
// network share). A local or VM-shared folder needs none.
//
// Every change is recorded in the state file before it is made; UndoRoute
// reverses one, idempotently.
#ifndef FSTUN_NETCONFIG_ROUTES_H_
#define FSTUN_NETCONFIG_ROUTES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/ip_address.h"
#include "netconfig/host_route.h"
#include "netconfig/state_file.h"

namespace fstun {

// The host's main routing table. Real: netlink (NetlinkRouteTable); tests
// use an in-memory fake.
class RouteTable {
 public:
  virtual ~RouteTable() = default;
  // The unicast routes of the main table for family 4 or 6.
  virtual absl::StatusOr<std::vector<HostRoute>> List(int family) = 0;
  // AlreadyExists if the same route is there.
  virtual absl::Status Add(const HostRoute& route) = 0;
  // NotFound if the route (or its device) is gone.
  virtual absl::Status Delete(const HostRoute& route) = 0;
};

// The metric of every route fstun adds.
inline constexpr uint32_t kTunnelRouteMetric = 1;

struct ClientRouting {
  std::string ifname;                     // the TUN
  std::vector<IpPrefix> tunnel_prefixes;  // which families the tunnel carries
  std::vector<IpPrefix> split_routes;     // empty: replace the default route(s)
  std::vector<IpAddress> keep_routes;     // kept outside the tunnel
};

// InvalidArgument for a route of a family the tunnel does not carry.
absl::Status ValidateClientRouting(const ClientRouting& routing);

// Makes the changes, each recorded in `journal` first. On error the changes
// made so far stay recorded (the caller undoes them from the journal).
absl::Status RouteThroughTunnel(RouteTable& table, const ClientRouting& routing,
                                StateFile& journal);

// Reverses one route change: deletes a route fstun added (fine if it is gone,
// e.g. with the TUN), puts back one it removed (fine if it is there).
absl::Status UndoRouteChange(RouteTable& table, const RouteChange& change);

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_ROUTES_H_
