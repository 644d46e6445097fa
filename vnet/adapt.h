// ConvertFrame: the one helper that adapts a frame between the two formats
// of core/frame.h, for a peer whose format differs from this end's:
//
//   kVnet -> kIp   completes a partial checksum and cuts a GSO super-packet
//                  into the MTU-sized packets the kernel would have sent
//                  without offloads (vnet/gso.h);
//   kIp -> kVnet   puts a zeroed virtio_net_hdr in front (a complete packet);
//   same format    copies the frame.
//
//   FrameBatch out(64, 2048);
//   absl::StatusOr<size_t> n = ConvertFrame(frame, FrameFormat::kVnet, FrameFormat::kIp, out);
//
// The core's router calls it before a frame goes to a peer and after one
// arrives from a peer; transports never do.
#ifndef FSTUN_VNET_ADAPT_H_
#define FSTUN_VNET_ADAPT_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "core/frame.h"

namespace fstun {

// Appends `frame` (in format `from`) to `out` in format `to`; returns how
// many frames were appended. InvalidArgument if the frame is malformed;
// ResourceExhausted if `out` has too few or too small free slots (then
// nothing is appended).
absl::StatusOr<size_t> ConvertFrame(FrameView frame, FrameFormat from, FrameFormat to,
                                    FrameBatch& out);

// Free slots ConvertFrame may need for one frame: a 64 KiB super-packet cut
// into segments of at least 536 payload bytes.
inline constexpr size_t kMaxSegmentsPerFrame = 128;

}  // namespace fstun

#endif  // FSTUN_VNET_ADAPT_H_
