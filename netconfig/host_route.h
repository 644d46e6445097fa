// HostRoute: one entry of the host's routing table as fstun changes it, and its
// one-line text form for the state file ("dst=0.0.0.0/0 gateway=192.0.2.1
// dev=eth0 metric=100 ..."), so a route fstun removed can be put back exactly.
#ifndef FSTUN_NETCONFIG_HOST_ROUTE_H_
#define FSTUN_NETCONFIG_HOST_ROUTE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ip_address.h"

namespace fstun {

struct HostRoute {
  IpPrefix destination;              // the network (host bits clear)
  std::optional<IpAddress> gateway;  // none: directly on `device`
  std::string device;                // outgoing interface name
  uint32_t metric = 0;               // RTA_PRIORITY
  uint32_t table = 254;              // RT_TABLE_MAIN
  uint8_t protocol = 0;              // "proto" as listed (0: static when added)

  int family() const { return destination.address.family; }
  bool is_default() const { return destination.length == 0; }

  // "dst=... [gateway=...] dev=... metric=... table=... protocol=...": no
  // spaces inside values.
  std::string ToText() const;
  static absl::StatusOr<HostRoute> FromText(absl::string_view text);
  // Like `ip route`: "default via 192.0.2.1 dev eth0 metric 100".
  std::string Describe() const;

  // A route's identity; `protocol` is not part of it (as in the kernel).
  bool operator==(const HostRoute& o) const {
    return destination == o.destination && gateway == o.gateway && device == o.device &&
           metric == o.metric && table == o.table;
  }
};

}  // namespace fstun

#endif  // FSTUN_NETCONFIG_HOST_ROUTE_H_
