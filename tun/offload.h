// TUN offloads: turning them on (TUNSETOFFLOAD) for a TUN opened with
// IFF_VNET_HDR. What the frames look like then is vnet/'s business
// (vnet/header.h); this file only holds the ioctl.
#ifndef FSTUN_TUN_OFFLOAD_H_
#define FSTUN_TUN_OFFLOAD_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fstun {

// UDP segmentation offload flags; Linux 6.2+ (older headers lack them).
inline constexpr unsigned kTunOffloadUso4 = 0x20;
inline constexpr unsigned kTunOffloadUso6 = 0x40;

// Turns on the largest set of offloads the kernel accepts on the TUN `fd`:
// checksum + TSO4/6 + USO4/6, else checksum + TSO4/6, else checksum alone.
// (Kernels refuse TSO without checksum offload, and USO on kernels < 6.2.)
// Returns the TUN_F_* flags now on.
absl::StatusOr<unsigned> EnableTunOffloads(int fd, absl::string_view ifname);

}  // namespace fstun

#endif  // FSTUN_TUN_OFFLOAD_H_
