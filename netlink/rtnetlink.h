// RtNetlink: configures links, addresses and routes through the kernel's
// rtnetlink interface (libmnl), the same requests `ip link/addr/route` makes,
// without running `ip`.
//
//   absl::StatusOr<std::unique_ptr<RtNetlink>> nl = RtNetlink::Open();
//   RETURN_IF_ERROR((*nl)->SetMtu("tun0", 1400));
//   RETURN_IF_ERROR((*nl)->AddAddress("tun0", *IpPrefix::Parse("192.0.2.1/24")));
//   RETURN_IF_ERROR((*nl)->SetUp("tun0"));
//   absl::StatusOr<std::vector<Route>> defaults = (*nl)->GetDefaultRoutes(4);
//
// Errors carry a one-line message naming what failed and why, fit to show a
// user: "cannot add address 192.0.2.1/24 to tun0: need CAP_NET_ADMIN (run as
// root)". The status code says what kind of failure it was: NotFound (no such
// interface or route), AlreadyExists, PermissionDenied, InvalidArgument.
// When the kernel explains a refusal (extended ack) its words are included.
//
// The netlink socket belongs to the network namespace of the thread that
// called Open(), for the object's whole life. One RtNetlink must not be used
// by two threads at once. Control path only: every call is a system call
// round trip and may allocate.
#ifndef FSTUN_NETLINK_RTNETLINK_H_
#define FSTUN_NETLINK_RTNETLINK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ip_address.h"

struct mnl_socket;
struct nlmsghdr;

namespace fstun {

// The main routing table (RT_TABLE_MAIN), where `ip route` works by default.
inline constexpr uint32_t kMainRoutingTable = 254;

struct LinkInfo {
  int index = 0;
  std::string name;
  size_t mtu = 0;
  uint32_t tx_queue_length = 0;
  bool up = false;   // administratively up (IFF_UP)
  std::string kind;  // "tun", "veth", "bridge", ...; empty for lo and physical NICs
};

// One unicast route. To add a route give `destination` and a gateway, an
// interface, or both. 0.0.0.0/0 and ::/0 are default routes.
struct Route {
  IpPrefix destination;
  std::optional<IpAddress> gateway;  // "via"; same family as destination
  int ifindex = 0;                   // "dev"; 0 = let the kernel pick from the gateway
  uint32_t metric = 0;               // "metric"; the kernel uses 1024 for IPv6 when 0
  uint32_t table = kMainRoutingTable;
  // "proto": who installed it (RTPROT_BOOT, _STATIC, _DHCP, _RA, ...), as
  // listed; 0 adds with RTPROT_STATIC. Kept so a removed route can be put
  // back as it was; not part of a route's identity (operator==).
  uint8_t protocol = 0;

  // "0.0.0.0/0 via 192.0.2.1 ifindex 3 metric 100"
  std::string ToString() const;
  bool operator==(const Route& o) const {
    return destination == o.destination && gateway == o.gateway && ifindex == o.ifindex &&
           metric == o.metric && table == o.table;
  }
};

class RtNetlink {
 public:
  // Opens a NETLINK_ROUTE socket in the calling thread's network namespace.
  static absl::StatusOr<std::unique_ptr<RtNetlink>> Open();
  ~RtNetlink();
  RtNetlink(const RtNetlink&) = delete;
  RtNetlink& operator=(const RtNetlink&) = delete;

  // Links. NotFound if there is no interface of that name.
  absl::StatusOr<int> LinkIndex(absl::string_view ifname);
  absl::StatusOr<LinkInfo> GetLink(absl::string_view ifname);
  absl::StatusOr<LinkInfo> GetLink(int ifindex);
  absl::Status SetMtu(absl::string_view ifname, size_t mtu);
  // The interface's transmit queue length in packets (`ip link set txqueuelen`).
  absl::Status SetTxQueueLength(absl::string_view ifname, uint32_t packets);
  absl::Status SetUp(absl::string_view ifname);
  absl::Status SetDown(absl::string_view ifname);
  absl::Status DeleteLink(absl::string_view ifname);

  // Addresses. An IPv6 address is added without duplicate address
  // detection (IFA_F_NODAD), so it is usable at once. AlreadyExists if the
  // interface has it already.
  absl::Status AddAddress(absl::string_view ifname, const IpPrefix& address);
  absl::Status DeleteAddress(absl::string_view ifname, const IpPrefix& address);
  // The IPv4 and IPv6 addresses of an interface (IPv6 link-local included).
  absl::StatusOr<std::vector<IpPrefix>> ListAddresses(absl::string_view ifname);

  // Routes. AddRoute fails with AlreadyExists if the same route exists;
  // ReplaceRoute adds or overwrites it (`ip route replace`). DeleteRoute
  // matches destination, table and, when set, gateway, ifindex and metric;
  // NotFound if nothing matches.
  absl::Status AddRoute(const Route& route);
  absl::Status ReplaceRoute(const Route& route);
  absl::Status DeleteRoute(const Route& route);
  // The unicast routes of `table` for family 4 or 6. A multipath route is
  // listed once per next hop.
  absl::StatusOr<std::vector<Route>> ListRoutes(int family, uint32_t table = kMainRoutingTable);
  // The default routes (destination /0) of the main table, lowest metric first.
  absl::StatusOr<std::vector<Route>> GetDefaultRoutes(int family);

 private:
  using MessageHandler = std::function<void(const nlmsghdr*)>;

  RtNetlink(mnl_socket* socket, uint32_t port_id);

  // Starts a request of `type` in request_.
  nlmsghdr* NewRequest(uint16_t type, uint16_t flags);
  // Sends `request` (built in request_) and reads the answer. Requests that
  // change something are acknowledged; dumps call `on_message` once per
  // reply message. A kernel refusal becomes a status that starts with `what`.
  absl::Status Transact(nlmsghdr* request, absl::string_view what,
                        const MessageHandler& on_message = nullptr);
  absl::StatusOr<LinkInfo> QueryLink(int ifindex, absl::string_view ifname);
  absl::Status ChangeLinkFlags(absl::string_view ifname, bool up);
  absl::Status ChangeAddress(absl::string_view ifname, const IpPrefix& address, bool add);
  absl::Status ChangeRoute(const Route& route, int type, uint16_t flags, absl::string_view verb);

  mnl_socket* const socket_;
  const uint32_t port_id_;
  uint32_t sequence_;
  std::vector<char> request_;  // allocated once; requests are small
  std::vector<char> reply_;    // large enough for one dump message batch
};

}  // namespace fstun

#endif  // FSTUN_NETLINK_RTNETLINK_H_
