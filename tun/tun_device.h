// TunDevice: the Linux TUN interface as a Device (core/device.h).
//
// Create() makes a new, non-persistent TUN interface (IFF_TUN | IFF_NO_PI:
// each read or write is one bare IP packet), sets its MTU and addresses and
// brings it up over rtnetlink (netlink/). The fd is non-blocking and
// close-on-exec; the interface, its addresses and routes through it vanish
// when the TunDevice is destroyed.
//
//   TunOptions options;
//   options.name = "tun0";
//   options.mtu = 1400;
//   options.addresses = {*IpPrefix::Parse("192.0.2.1/24")};
//   absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(options);
//   if (!tun.ok()) { std::cerr << tun.status().message(); return 1; }
//
// Data path: Read() read()s packets into the batch until the kernel has no
// more (EAGAIN) or the batch is full; Write() write()s each frame. A packet
// the kernel refuses is dropped and counted under a reason (kDropTun*), as a
// NIC would; only a dead fd (the interface was deleted) is an error. Neither
// allocates nor logs per packet.
//
// With TunOptions::vnet_hdr (offloads, vnet/header.h) every frame read or
// written starts with a struct virtio_net_hdr, and frames may be GSO
// super-packets of up to 64 KiB: the batch's slots must hold
// kMaxFrameSize bytes.
//
// Counters: rx = packets read from the kernel, tx = packets written to it.
// Read and Write may run on two threads at once (each only uses the fd and
// atomic counters), but neither may be called by two threads at once;
// counters() may be read from any thread.
#ifndef FSTUN_TUN_TUN_DEVICE_H_
#define FSTUN_TUN_TUN_DEVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/device.h"
#include "core/frame.h"
#include "core/ip_address.h"

namespace fstun {

// Why TunDevice::Write dropped a packet (counters().drops keys).
inline constexpr char kDropTunFull[] = "tun_full";               // the kernel had no room (EAGAIN)
inline constexpr char kDropTunDown[] = "tun_down";               // the interface is down (EIO)
inline constexpr char kDropTunWriteError[] = "tun_write_error";  // refused: not IP, bad header...

struct TunOptions {
  // Interface name, at most 15 characters; "fstun%d" lets the kernel pick
  // the number (name() then tells which).
  std::string name = "tun0";
  size_t mtu = 1500;
  // Addresses with their subnet, e.g. 192.0.2.1/24 and 2001:db8::1/64. An
  // IPv6 address needs mtu >= 1280.
  std::vector<IpPrefix> addresses;
  // Packets the kernel may queue for us to read before it drops (the
  // interface's txqueuelen); 0 keeps the kernel's default (500). A longer
  // queue absorbs bursts while the reader is busy, at the cost of latency.
  uint32_t tx_queue_length = 0;
  // Offloads: IFF_VNET_HDR plus TUNSETOFFLOAD (checksum, TSO, USO). See
  // vnet/header.h for what the frames look like then.
  bool vnet_hdr = false;
  // The TUN clone device (tests point it elsewhere).
  std::string clone_device = "/dev/net/tun";
};

class TunDevice : public Device {
 public:
  // Creates and configures the interface. Fails with a one-line message a
  // user can act on: AlreadyExists if the name is taken, PermissionDenied
  // without CAP_NET_ADMIN, FailedPrecondition without TUN support.
  static absl::StatusOr<std::unique_ptr<TunDevice>> Create(const TunOptions& options);
  // Closes the fd; the kernel removes the interface.
  ~TunDevice() override;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  absl::StatusOr<size_t> Read(FrameBatch& batch) override;
  absl::Status Write(absl::Span<const FrameView> frames) override;

  int fd() const override { return fd_; }
  const std::string& name() const override { return name_; }
  size_t mtu() const override { return mtu_; }
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  // Read: read(2); Write: write(2). Nothing else after set-up.
  SyscallNeeds syscalls() const override { return {{"read", "write"}, {}, {}}; }

  int ifindex() const { return ifindex_; }
  // True if frames carry a virtio_net_hdr (TunOptions::vnet_hdr).
  bool vnet_hdr() const { return vnet_hdr_; }
  // TUN_F_* offload flags the kernel accepted (0 without vnet_hdr).
  unsigned offload_flags() const { return offload_flags_; }

 private:
  TunDevice(int fd, std::string name, int ifindex, size_t mtu, bool vnet_hdr,
            unsigned offload_flags);

  // The error Read/Write return once the fd is dead.
  absl::Status DeadError(absl::string_view op, int err) const;

  const int fd_;
  const std::string name_;
  const int ifindex_;
  const size_t mtu_;
  const bool vnet_hdr_;
  const unsigned offload_flags_;
  // The smallest batch slot Read accepts: a whole packet must fit, since the
  // kernel silently truncates what does not.
  const size_t min_frame_capacity_;
  Counters counters_;
};

}  // namespace fstun

#endif  // FSTUN_TUN_TUN_DEVICE_H_
