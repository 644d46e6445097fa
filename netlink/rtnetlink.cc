#include "netlink/rtnetlink.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fstun {
namespace {

// Big enough for the kernel's largest dump batch (it fills up to 32 KiB when
// the reader's buffer allows), so no reply is ever truncated.
constexpr size_t kReplyBufferSize = 64 * 1024;
constexpr size_t kRequestBufferSize = 1024;

int AddressFamily(int family) { return family == 4 ? AF_INET : AF_INET6; }

// Turns a kernel errno into a status whose message starts with `what` and
// tells the user what to do about it where there is something to do.
absl::Status KernelError(int err, absl::string_view what, absl::string_view kernel_says) {
  std::string why;
  absl::StatusCode code;
  switch (err) {
    case EPERM:
    case EACCES:
      code = absl::StatusCode::kPermissionDenied;
      why = "need CAP_NET_ADMIN (run as root)";
      break;
    case EEXIST:
      code = absl::StatusCode::kAlreadyExists;
      why = "it exists already";
      break;
    case ENODEV:
      code = absl::StatusCode::kNotFound;
      why = "no such interface";
      break;
    case ESRCH:
      code = absl::StatusCode::kNotFound;
      why = "no such route";
      break;
    case EADDRNOTAVAIL:
      code = absl::StatusCode::kNotFound;
      why = "no such address";
      break;
    case ENETUNREACH:
      code = absl::StatusCode::kFailedPrecondition;
      why = "the gateway is not on any link that is up (no route to it)";
      break;
    case ENETDOWN:
      code = absl::StatusCode::kFailedPrecondition;
      why = "the interface is down";
      break;
    case EINVAL:
    case ERANGE:
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
      code = absl::StatusCode::kInvalidArgument;
      why = strerror(err);
      break;
    default:
      code = absl::StatusCode::kInternal;
      why = strerror(err);
      break;
  }
  std::string message = absl::StrCat(what, ": ", why);
  if (!kernel_says.empty()) absl::StrAppend(&message, " (kernel: ", kernel_says, ")");
  return absl::Status(code, message);
}

absl::Status CheckInterfaceName(absl::string_view ifname) {
  if (ifname.empty()) return absl::InvalidArgumentError("empty interface name");
  if (ifname.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interface name '", ifname, "' is too long (at most ", IFNAMSIZ - 1, " characters)"));
  }
  return absl::OkStatus();
}

// libmnl's mnl_attr_for_each, C++-typed: calls f(attr) for each attribute
// after the first `offset` bytes of the message payload.
template <typename F>
void ForEachAttribute(const nlmsghdr* nlh, size_t offset, F f) {
  const auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, offset));
  const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  while (mnl_attr_ok(attr, end - reinterpret_cast<const char*>(attr))) {
    f(attr);
    attr = mnl_attr_next(attr);
  }
}

// The kernel's own explanation of a refusal (extended ack), if it sent one.
std::string ExtendedAckMessage(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  // The attributes follow the echoed request: its header only when capped.
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  if (mnl_nlmsg_get_payload_len(nlh) < offset) return "";
  std::string message;
  ForEachAttribute(nlh, offset, [&](const nlattr* attr) {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
        mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
      message = mnl_attr_get_str(attr);
    }
  });
  return message;
}

// IFLA_INFO_KIND inside an IFLA_LINKINFO attribute ("tun", "veth", ...).
std::string LinkKind(const nlattr* linkinfo) {
  const char* begin = static_cast<const char*>(mnl_attr_get_payload(linkinfo));
  const char* end = begin + mnl_attr_get_payload_len(linkinfo);
  const auto* attr = reinterpret_cast<const nlattr*>(begin);
  while (mnl_attr_ok(attr, end - reinterpret_cast<const char*>(attr))) {
    if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
        mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
      return mnl_attr_get_str(attr);
    }
    attr = mnl_attr_next(attr);
  }
  return "";
}

// Reads an address attribute of the expected family; false if malformed.
bool ReadAddress(const nlattr* attr, int family, IpAddress* out) {
  uint16_t len = mnl_attr_get_payload_len(attr);
  const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
  if (family == 4 && len == 4) {
    *out = IpAddress::V4(bytes);
    return true;
  }
  if (family == 6 && len == 16) {
    *out = IpAddress::V6(bytes);
    return true;
  }
  return false;
}

bool ReadU32(const nlattr* attr, uint32_t* out) {
  if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return false;
  *out = mnl_attr_get_u32(attr);
  return true;
}

IpAddress ZeroAddress(int family) {
  IpAddress a;
  a.family = family;
  return a;
}

// Appends the routes one RTM_NEWROUTE message describes (one per next hop).
void ParseRoute(const nlmsghdr* nlh, int family, uint32_t table, std::vector<Route>* routes) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) return;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_family != AddressFamily(family) || rtm->rtm_type != RTN_UNICAST ||
      (rtm->rtm_flags & RTM_F_CLONED)) {
    return;
  }
  Route route;
  route.destination.address = ZeroAddress(family);
  route.destination.length = rtm->rtm_dst_len;
  route.protocol = rtm->rtm_protocol;
  uint32_t route_table = rtm->rtm_table;
  const nlattr* multipath = nullptr;
  ForEachAttribute(nlh, sizeof(rtmsg), [&](const nlattr* attr) {
    IpAddress address;
    switch (mnl_attr_get_type(attr)) {
      case RTA_TABLE:
        ReadU32(attr, &route_table);
        break;
      case RTA_DST:
        if (ReadAddress(attr, family, &address)) route.destination.address = address;
        break;
      case RTA_GATEWAY:
        if (ReadAddress(attr, family, &address)) route.gateway = address;
        break;
      case RTA_OIF: {
        uint32_t index;
        if (ReadU32(attr, &index)) route.ifindex = static_cast<int>(index);
        break;
      }
      case RTA_PRIORITY:
        ReadU32(attr, &route.metric);
        break;
      case RTA_MULTIPATH:
        multipath = attr;
        break;
    }
  });
  if (route_table != table) return;
  route.table = route_table;
  if (multipath == nullptr) {
    routes->push_back(std::move(route));
    return;
  }
  const auto* hop = static_cast<const rtnexthop*>(mnl_attr_get_payload(multipath));
  int left = mnl_attr_get_payload_len(multipath);
  while (left >= static_cast<int>(sizeof(rtnexthop)) && hop->rtnh_len >= sizeof(rtnexthop) &&
         hop->rtnh_len <= left) {
    Route one = route;
    one.ifindex = hop->rtnh_ifindex;
    one.gateway.reset();
    const char* data = reinterpret_cast<const char*>(RTNH_DATA(hop));
    const char* end = reinterpret_cast<const char*>(hop) + hop->rtnh_len;
    const auto* nested = reinterpret_cast<const nlattr*>(data);
    int nested_left = end - data;
    while (mnl_attr_ok(nested, nested_left)) {
      IpAddress address;
      if (mnl_attr_get_type(nested) == RTA_GATEWAY && ReadAddress(nested, family, &address)) {
        one.gateway = address;
      }
      nested = mnl_attr_next(nested);
      nested_left = end - reinterpret_cast<const char*>(nested);
    }
    routes->push_back(std::move(one));
    left -= RTNH_ALIGN(hop->rtnh_len);
    hop = RTNH_NEXT(hop);
  }
}

}  // namespace

std::string Route::ToString() const {
  std::string text = destination.ToString();
  if (gateway.has_value()) absl::StrAppend(&text, " via ", gateway->ToString());
  if (ifindex != 0) absl::StrAppend(&text, " ifindex ", ifindex);
  if (metric != 0) absl::StrAppend(&text, " metric ", metric);
  if (table != kMainRoutingTable) absl::StrAppend(&text, " table ", table);
  return text;
}

absl::StatusOr<std::unique_ptr<RtNetlink>> RtNetlink::Open() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (socket == nullptr) return KernelError(errno, "cannot open a netlink socket", "");
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(socket);
    return KernelError(err, "cannot bind a netlink socket", "");
  }
  // Ask for the kernel's reason with each refusal, and for acks without an
  // echo of the request. Older kernels lack these; the answers still work.
  int one = 1;
  mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &one, sizeof(one));
  return std::unique_ptr<RtNetlink>(new RtNetlink(socket, mnl_socket_get_portid(socket)));
}

RtNetlink::RtNetlink(mnl_socket* socket, uint32_t port_id)
    : socket_(socket),
      port_id_(port_id),
      sequence_(static_cast<uint32_t>(time(nullptr))),
      request_(kRequestBufferSize),
      reply_(kReplyBufferSize) {}

RtNetlink::~RtNetlink() { mnl_socket_close(socket_); }

nlmsghdr* RtNetlink::NewRequest(uint16_t type, uint16_t flags) {
  std::fill(request_.begin(), request_.end(), 0);
  nlmsghdr* nlh = mnl_nlmsg_put_header(request_.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  return nlh;
}

absl::Status RtNetlink::Transact(nlmsghdr* request, absl::string_view what,
                                 const MessageHandler& on_message) {
  const bool dump = (request->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  // A dump ends with NLMSG_DONE; anything else is acknowledged.
  if (!dump) request->nlmsg_flags |= NLM_F_ACK;
  request->nlmsg_seq = ++sequence_;
  if (mnl_socket_sendto(socket_, request, request->nlmsg_len) < 0) {
    return KernelError(errno, what, "");
  }
  bool interrupted = false;
  while (true) {
    ssize_t received = mnl_socket_recvfrom(socket_, reply_.data(), reply_.size());
    if (received < 0) {
      if (errno == EINTR) continue;
      return KernelError(errno, what, "");
    }
    int left = static_cast<int>(received);
    for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(reply_.data());
         mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      // Skip answers to an earlier request that gave up half-way.
      if (nlh->nlmsg_seq != sequence_ || nlh->nlmsg_pid != port_id_) continue;
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      switch (nlh->nlmsg_type) {
        case NLMSG_NOOP:
          break;
        case NLMSG_OVERRUN:
          return absl::InternalError(absl::StrCat(what, ": netlink overrun"));
        case NLMSG_ERROR: {
          if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
            return absl::InternalError(absl::StrCat(what, ": truncated netlink error"));
          }
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (err->error == 0) return absl::OkStatus();  // the ack
          return KernelError(-err->error, what, ExtendedAckMessage(nlh));
        }
        case NLMSG_DONE: {
          if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
            int error = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
            if (error < 0) return KernelError(-error, what, ExtendedAckMessage(nlh));
          }
          if (interrupted) {
            return absl::UnavailableError(
                absl::StrCat(what, ": the table changed while it was read; try again"));
          }
          return absl::OkStatus();
        }
        default:
          if (on_message) on_message(nlh);
          break;
      }
    }
  }
}

absl::StatusOr<LinkInfo> RtNetlink::QueryLink(int ifindex, absl::string_view ifname) {
  nlmsghdr* nlh = NewRequest(RTM_GETLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  std::string name(ifname);
  if (ifindex == 0) mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  // Statistics would only make the answer bigger.
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  LinkInfo info;
  bool answered = false;
  absl::Status status =
      Transact(nlh,
               ifindex == 0 ? absl::StrCat("cannot look up interface ", ifname)
                            : absl::StrCat("cannot look up interface #", ifindex),
               [&](const nlmsghdr* reply) {
                 if (reply->nlmsg_type != RTM_NEWLINK ||
                     mnl_nlmsg_get_payload_len(reply) < sizeof(ifinfomsg)) {
                   return;
                 }
                 const auto* link = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply));
                 info.index = link->ifi_index;
                 info.up = (link->ifi_flags & IFF_UP) != 0;
                 ForEachAttribute(reply, sizeof(ifinfomsg), [&](const nlattr* attr) {
                   uint32_t mtu;
                   if (mnl_attr_get_type(attr) == IFLA_MTU && ReadU32(attr, &mtu)) info.mtu = mtu;
                   if (mnl_attr_get_type(attr) == IFLA_TXQLEN) ReadU32(attr, &info.tx_queue_length);
                   if (mnl_attr_get_type(attr) == IFLA_LINKINFO) info.kind = LinkKind(attr);
                   if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
                       mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
                     info.name = mnl_attr_get_str(attr);
                   }
                 });
                 answered = true;
               });
  // A non-dump request is answered by the message and then an ack.
  if (status.ok() && !answered) {
    return absl::InternalError(absl::StrCat("no answer about interface ", ifname));
  }
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(ifindex == 0 ? absl::StrCat("no interface named ", ifname)
                                            : absl::StrCat("no interface #", ifindex));
  }
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<LinkInfo> RtNetlink::GetLink(absl::string_view ifname) {
  if (absl::Status s = CheckInterfaceName(ifname); !s.ok()) return s;
  return QueryLink(0, ifname);
}

absl::StatusOr<LinkInfo> RtNetlink::GetLink(int ifindex) {
  if (ifindex <= 0) return absl::InvalidArgumentError(absl::StrCat("bad ifindex ", ifindex));
  return QueryLink(ifindex, "");
}

absl::StatusOr<int> RtNetlink::LinkIndex(absl::string_view ifname) {
  absl::StatusOr<LinkInfo> link = GetLink(ifname);
  if (!link.ok()) return link.status();
  return link->index;
}

absl::Status RtNetlink::SetMtu(absl::string_view ifname, size_t mtu) {
  absl::StatusOr<int> index = LinkIndex(ifname);
  if (!index.ok()) return index.status();
  std::string what = absl::StrCat("cannot set MTU ", mtu, " on ", ifname);
  if (mtu < 68 || mtu > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the MTU must be 68..65535"));
  }
  nlmsghdr* nlh = NewRequest(RTM_NEWLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = *index;
  mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  return Transact(nlh, what);
}

absl::Status RtNetlink::SetTxQueueLength(absl::string_view ifname, uint32_t packets) {
  absl::StatusOr<int> index = LinkIndex(ifname);
  if (!index.ok()) return index.status();
  nlmsghdr* nlh = NewRequest(RTM_NEWLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = *index;
  mnl_attr_put_u32(nlh, IFLA_TXQLEN, packets);
  return Transact(
      nlh, absl::StrCat("cannot set the transmit queue length of ", ifname, " to ", packets));
}

absl::Status RtNetlink::ChangeLinkFlags(absl::string_view ifname, bool up) {
  absl::StatusOr<int> index = LinkIndex(ifname);
  if (!index.ok()) return index.status();
  nlmsghdr* nlh = NewRequest(RTM_NEWLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = *index;
  ifi->ifi_flags = up ? IFF_UP : 0;
  ifi->ifi_change = IFF_UP;
  return Transact(nlh, absl::StrCat("cannot bring ", ifname, up ? " up" : " down"));
}

absl::Status RtNetlink::SetUp(absl::string_view ifname) { return ChangeLinkFlags(ifname, true); }
absl::Status RtNetlink::SetDown(absl::string_view ifname) { return ChangeLinkFlags(ifname, false); }

absl::Status RtNetlink::DeleteLink(absl::string_view ifname) {
  absl::StatusOr<int> index = LinkIndex(ifname);
  if (!index.ok()) return index.status();
  nlmsghdr* nlh = NewRequest(RTM_DELLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = *index;
  return Transact(nlh, absl::StrCat("cannot delete interface ", ifname));
}

absl::Status RtNetlink::ChangeAddress(absl::string_view ifname, const IpPrefix& address, bool add) {
  std::string what =
      add ? absl::StrCat("cannot add address ", address.ToString(), " to ", ifname)
          : absl::StrCat("cannot remove address ", address.ToString(), " from ", ifname);
  const int family = address.address.family;
  if ((family != 4 && family != 6) || address.length < 0 ||
      address.length > static_cast<int>(address.address.size()) * 8) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not an IPv4 or IPv6 prefix"));
  }
  absl::StatusOr<int> index = LinkIndex(ifname);
  if (!index.ok()) return index.status();
  nlmsghdr* nlh = NewRequest(add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AddressFamily(family);
  ifa->ifa_prefixlen = address.length;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = *index;
  // Without NODAD a new IPv6 address stays "tentative" (unusable) for a
  // second or more while the kernel probes for duplicates.
  if (family == 6 && add) {
    ifa->ifa_flags = IFA_F_NODAD;
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  }
  // IFA_LOCAL == IFA_ADDRESS: an address with a subnet, not a peer address.
  mnl_attr_put(nlh, IFA_LOCAL, address.address.size(), address.address.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, address.address.size(), address.address.bytes.data());
  return Transact(nlh, what);
}

absl::Status RtNetlink::AddAddress(absl::string_view ifname, const IpPrefix& address) {
  return ChangeAddress(ifname, address, /*add=*/true);
}

absl::Status RtNetlink::DeleteAddress(absl::string_view ifname, const IpPrefix& address) {
  return ChangeAddress(ifname, address, /*add=*/false);
}

absl::StatusOr<std::vector<IpPrefix>> RtNetlink::ListAddresses(absl::string_view ifname) {
  absl::StatusOr<int> index = LinkIndex(ifname);
  if (!index.ok()) return index.status();
  nlmsghdr* nlh = NewRequest(RTM_GETADDR, NLM_F_DUMP);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  std::vector<IpPrefix> addresses;
  absl::Status status = Transact(
      nlh, absl::StrCat("cannot list the addresses of ", ifname), [&](const nlmsghdr* reply) {
        if (reply->nlmsg_type != RTM_NEWADDR ||
            mnl_nlmsg_get_payload_len(reply) < sizeof(ifaddrmsg)) {
          return;
        }
        const auto* msg = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(reply));
        if (static_cast<int>(msg->ifa_index) != *index) return;
        int family = msg->ifa_family == AF_INET ? 4 : (msg->ifa_family == AF_INET6 ? 6 : 0);
        if (family == 0) return;
        std::optional<IpAddress> local, peer;
        ForEachAttribute(reply, sizeof(ifaddrmsg), [&](const nlattr* attr) {
          IpAddress a;
          if (mnl_attr_get_type(attr) == IFA_LOCAL && ReadAddress(attr, family, &a)) local = a;
          if (mnl_attr_get_type(attr) == IFA_ADDRESS && ReadAddress(attr, family, &a)) peer = a;
        });
        // IFA_LOCAL is the interface's own address when present (IPv4, or a
        // point-to-point peer); otherwise IFA_ADDRESS is.
        std::optional<IpAddress> own = local.has_value() ? local : peer;
        if (!own.has_value()) return;
        IpPrefix prefix;
        prefix.address = *own;
        prefix.length = msg->ifa_prefixlen;
        addresses.push_back(prefix);
      });
  if (!status.ok()) return status;
  return addresses;
}

absl::Status RtNetlink::ChangeRoute(const Route& route, int type, uint16_t flags,
                                    absl::string_view verb) {
  std::string what = absl::StrCat("cannot ", verb, " route ", route.ToString());
  const int family = route.destination.address.family;
  if ((family != 4 && family != 6) || route.destination.length < 0 ||
      route.destination.length > static_cast<int>(route.destination.address.size()) * 8) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not an IPv4 or IPv6 destination"));
  }
  if (route.gateway.has_value() && route.gateway->family != family) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the gateway is not of the destination's address family"));
  }
  const bool remove = type == RTM_DELROUTE;
  if (!remove && !route.gateway.has_value() && route.ifindex == 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": needs a gateway or an interface"));
  }
  nlmsghdr* nlh = NewRequest(type, flags);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AddressFamily(family);
  rtm->rtm_dst_len = route.destination.length;
  rtm->rtm_table = route.table < 256 ? route.table : RT_TABLE_UNSPEC;
  rtm->rtm_type = RTN_UNICAST;
  // When deleting, protocol 0 and scope NOWHERE match any route.
  rtm->rtm_protocol = remove ? 0 : (route.protocol != 0 ? route.protocol : RTPROT_STATIC);
  rtm->rtm_scope =
      remove ? RT_SCOPE_NOWHERE : (route.gateway.has_value() ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  mnl_attr_put_u32(nlh, RTA_TABLE, route.table);
  if (route.destination.length > 0) {
    // The kernel refuses a destination with host bits set.
    IpAddress network = route.destination.Network().address;
    mnl_attr_put(nlh, RTA_DST, network.size(), network.bytes.data());
  }
  if (route.gateway.has_value()) {
    mnl_attr_put(nlh, RTA_GATEWAY, route.gateway->size(), route.gateway->bytes.data());
  }
  if (route.ifindex != 0) mnl_attr_put_u32(nlh, RTA_OIF, route.ifindex);
  if (route.metric != 0) mnl_attr_put_u32(nlh, RTA_PRIORITY, route.metric);
  return Transact(nlh, what);
}

absl::Status RtNetlink::AddRoute(const Route& route) {
  return ChangeRoute(route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, "add");
}

absl::Status RtNetlink::ReplaceRoute(const Route& route) {
  return ChangeRoute(route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, "replace");
}

absl::Status RtNetlink::DeleteRoute(const Route& route) {
  return ChangeRoute(route, RTM_DELROUTE, 0, "delete");
}

absl::StatusOr<std::vector<Route>> RtNetlink::ListRoutes(int family, uint32_t table) {
  if (family != 4 && family != 6) {
    return absl::InvalidArgumentError(absl::StrCat("address family must be 4 or 6, not ", family));
  }
  nlmsghdr* nlh = NewRequest(RTM_GETROUTE, NLM_F_DUMP);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AddressFamily(family);
  std::vector<Route> routes;
  absl::Status status =
      Transact(nlh, absl::StrCat("cannot list IPv", family, " routes"), [&](const nlmsghdr* reply) {
        if (reply->nlmsg_type == RTM_NEWROUTE) {
          ParseRoute(reply, family, table, &routes);
        }
      });
  if (!status.ok()) return status;
  return routes;
}

absl::StatusOr<std::vector<Route>> RtNetlink::GetDefaultRoutes(int family) {
  absl::StatusOr<std::vector<Route>> routes = ListRoutes(family);
  if (!routes.ok()) return routes.status();
  std::vector<Route> defaults;
  for (Route& r : *routes) {
    if (r.destination.length == 0) defaults.push_back(std::move(r));
  }
  std::stable_sort(defaults.begin(), defaults.end(),
                   [](const Route& a, const Route& b) { return a.metric < b.metric; });
  return defaults;
}

}  // namespace fstun
