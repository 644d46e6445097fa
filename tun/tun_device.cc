#include "tun/tun_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/send_checks.h"
#include "netlink/rtnetlink.h"
#include "tun/offload.h"
#include "vnet/header.h"

namespace fstun {
namespace {

constexpr size_t kMinMtu = 68;        // IPv4's minimum
constexpr size_t kMinIpv6Mtu = 1280;  // IPv6's minimum
constexpr size_t kMaxMtu = 65535;

std::string ExistsMessage(absl::string_view name) {
  return absl::StrCat("interface ", name,
                      " already exists (a leftover? remove it with: ip link delete ", name, ")");
}

// For a name taken by something that is not a TUN (eth0, lo, a bridge...),
// suggesting `ip link delete` would be bad advice.
std::string TakenMessage(absl::string_view name, absl::string_view kind) {
  return absl::StrCat("interface ", name, " already exists and is not a TUN interface",
                      kind.empty() ? "" : absl::StrCat(" (it is a ", kind, ")"),
                      ": choose another interface name");
}

// The kernel's rules for interface names (dev_valid_name), checked here so
// the user gets a message instead of EINVAL.
absl::Status CheckName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty TUN interface name");
  if (name.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interface name '", name, "' is too long (at most ", IFNAMSIZ - 1, " characters)"));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a valid interface name"));
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n') {
      return absl::InvalidArgumentError(absl::StrCat("interface name '", name, "' contains '",
                                                     std::string(1, c),
                                                     "' (not allowed in interface names)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const TunOptions& options) {
  if (absl::Status s = CheckName(options.name); !s.ok()) return s;
  if (options.mtu < kMinMtu || options.mtu > kMaxMtu) {
    return absl::InvalidArgumentError(
        absl::StrCat("MTU ", options.mtu, " is out of range (", kMinMtu, "..", kMaxMtu, ")"));
  }
  for (const IpPrefix& a : options.addresses) {
    if (a.address.is_v6() && options.mtu < kMinIpv6Mtu) {
      return absl::InvalidArgumentError(
          absl::StrCat("MTU ", options.mtu, " is too small for IPv6 address ", a.ToString(),
                       " (IPv6 needs at least ", kMinIpv6Mtu, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OpenCloneDevice(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) return fd;
  int err = errno;
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot open ", path, ": ", strerror(err),
          " (no TUN support: load it with `modprobe tun`; in a container, pass the device in, "
          "e.g. docker run --device /dev/net/tun --cap-add NET_ADMIN)"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat("cannot open ", path, ": need CAP_NET_ADMIN (run as root)"));
    default:
      return absl::InternalError(absl::StrCat("cannot open ", path, ": ", strerror(err)));
  }
}

// What Write does when the kernel refuses one packet. This table is the
// only place that decides between "drop and count" and "the device is dead".
enum class WriteFailure { kRetry, kDrop, kDead };

WriteFailure ClassifyWriteError(int err, const char** drop_reason) {
  switch (err) {
    case EINTR:
      return WriteFailure::kRetry;
    case EAGAIN:
    case ENOBUFS:
    case ENOMEM:
      *drop_reason = kDropTunFull;
      return WriteFailure::kDrop;
    case EIO:  // the interface is administratively down
      *drop_reason = kDropTunDown;
      return WriteFailure::kDrop;
    case EBADFD:  // the interface was deleted under us
    case EBADF:
    case ENODEV:
    case ENXIO:
      return WriteFailure::kDead;
    default:  // EINVAL (not an IP packet, bad vnet header), EFAULT, EMSGSIZE...
      *drop_reason = kDropTunWriteError;
      return WriteFailure::kDrop;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<TunDevice>> TunDevice::Create(const TunOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<RtNetlink>> netlink = RtNetlink::Open();
  if (!netlink.ok()) return netlink.status();
  RtNetlink& nl = **netlink;

  // TUNSETIFF on the name of an existing persistent TUN would quietly attach
  // to it, with whatever addresses and routes it has: refuse instead. (A
  // name with %d is a pattern the kernel fills in with a free number.)
  const bool pattern = absl::StrContains(options.name, '%');
  if (!pattern) {
    absl::StatusOr<LinkInfo> existing = nl.GetLink(options.name);
    if (existing.ok()) {
      return absl::AlreadyExistsError(existing->kind == "tun"
                                          ? ExistsMessage(options.name)
                                          : TakenMessage(options.name, existing->kind));
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
  }

  absl::StatusOr<int> opened = OpenCloneDevice(options.clone_device);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  // Until the TunDevice owns the fd, closing it undoes everything so far.
  auto fail = [fd](absl::Status status) {
    close(fd);
    return status;
  };

  struct ifreq ifr = {};
  // IFF_TUN_EXCL closes the race with another creator between the check
  // above and here: the kernel then fails with EBUSY.
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL;
  if (options.vnet_hdr) ifr.ifr_flags |= IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, options.name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int err = errno;
    switch (err) {
      case EBUSY:
      case EEXIST:
        return fail(absl::AlreadyExistsError(ExistsMessage(options.name)));
      case EPERM:
      case EACCES:
        return fail(absl::PermissionDeniedError(absl::StrCat(
            "cannot create TUN interface ", options.name, ": need CAP_NET_ADMIN (run as root)")));
      case EINVAL:
        return fail(absl::InvalidArgumentError(
            absl::StrCat("cannot create TUN interface ", options.name, ": ", strerror(err),
                         " (is the name taken by a non-TUN interface?)")));
      default:
        return fail(absl::InternalError(
            absl::StrCat("cannot create TUN interface ", options.name, ": ", strerror(err))));
    }
  }
  const std::string name(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));

  unsigned offload_flags = 0;
  if (options.vnet_hdr) {
    absl::StatusOr<unsigned> flags = EnableTunOffloads(fd, name);
    if (!flags.ok()) return fail(flags.status());
    offload_flags = *flags;
  }

  // Configure: MTU (and queue), up, then addresses (so IPv6 ones are usable at once).
  absl::StatusOr<int> ifindex = nl.LinkIndex(name);
  if (!ifindex.ok()) return fail(ifindex.status());
  if (absl::Status s = nl.SetMtu(name, options.mtu); !s.ok()) return fail(s);
  if (options.tx_queue_length != 0) {
    absl::Status s = nl.SetTxQueueLength(name, options.tx_queue_length);
    if (!s.ok()) return fail(s);
  }
  if (absl::Status s = nl.SetUp(name); !s.ok()) return fail(s);
  for (const IpPrefix& address : options.addresses) {
    if (absl::Status s = nl.AddAddress(name, address); !s.ok()) return fail(s);
  }
  return std::unique_ptr<TunDevice>(
      new TunDevice(fd, name, *ifindex, options.mtu, options.vnet_hdr, offload_flags));
}

TunDevice::TunDevice(int fd, std::string name, int ifindex, size_t mtu, bool vnet_hdr,
                     unsigned offload_flags)
    : fd_(fd),
      name_(std::move(name)),
      ifindex_(ifindex),
      mtu_(mtu),
      vnet_hdr_(vnet_hdr),
      offload_flags_(offload_flags),
      min_frame_capacity_(vnet_hdr ? kMaxMtu + kVirtioNetHdrSize : mtu) {}

TunDevice::~TunDevice() { close(fd_); }

absl::Status TunDevice::DeadError(absl::string_view op, int err) const {
  return absl::UnavailableError(absl::StrCat("TUN interface ", name_, " is gone (", op, ": ",
                                             strerror(err), "); was it deleted?"));
}

absl::StatusOr<size_t> TunDevice::Read(FrameBatch& batch) {
  if (batch.frame_capacity() < min_frame_capacity_) {
    return absl::InvalidArgumentError(absl::StrCat("read buffer slots of ", batch.frame_capacity(),
                                                   " bytes are too small for ", name_, " (need ",
                                                   min_frame_capacity_, ")"));
  }
  size_t count = 0;
  uint64_t bytes = 0;
  batch.set_format(vnet_hdr_ ? FrameFormat::kVnet : FrameFormat::kIp);
  while (!batch.full()) {
    absl::Span<uint8_t> slot = batch.NextSlot();
    ssize_t n = read(fd_, slot.data(), slot.size());
    if (n > 0) {
      batch.CommitNext(static_cast<size_t>(n));
      ++count;
      bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) break;
    const int err = errno;
    counters_.AddRx(count, bytes);
    return DeadError("read", err);
  }
  counters_.AddRx(count, bytes);
  return count;
}

absl::Status TunDevice::Write(absl::Span<const FrameView> frames) {
  uint64_t written = 0;
  uint64_t bytes = 0;
  for (FrameView frame : frames) {
    if (frame.empty()) {
      counters_.AddDrop(kDropEmpty);
      continue;
    }
    while (true) {
      ssize_t n = write(fd_, frame.data(), frame.size());
      if (n >= 0) {
        ++written;
        bytes += frame.size();
        break;
      }
      const int err = errno;
      const char* reason = kDropTunWriteError;
      WriteFailure failure = ClassifyWriteError(err, &reason);
      if (failure == WriteFailure::kRetry) continue;
      if (failure == WriteFailure::kDead) {
        counters_.AddTx(written, bytes);
        return DeadError("write", err);
      }
      counters_.AddDrop(reason);
      break;
    }
  }
  counters_.AddTx(written, bytes);
  return absl::OkStatus();
}

}  // namespace fstun
