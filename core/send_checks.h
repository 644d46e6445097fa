// Checks every transport makes on a batch before sending it, so that all of
// them refuse the same frames with the same status and drop reason.
#ifndef FSTUN_CORE_SEND_CHECKS_H_
#define FSTUN_CORE_SEND_CHECKS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "core/counters.h"
#include "core/frame.h"

namespace fstun {

// The drop reasons shared by all transports.
inline constexpr char kDropOversize[] = "oversize";
inline constexpr char kDropQueueFull[] = "queue_full";
inline constexpr char kDropEmpty[] = "empty";

// True if a transport with this MTU (and GSO ability) accepts `frame`.
// Otherwise counts the drop in `counters` and returns false.
bool AcceptForSend(FrameView frame, size_t mtu, bool carries_gso, Counters& counters);

// The status Send returns when `refused` (> 0) frames were not accepted.
absl::Status RefusedStatus(size_t refused, size_t mtu);

inline absl::Status ClosedStatus() { return absl::FailedPreconditionError("transport is closed"); }

}  // namespace fstun

#endif  // FSTUN_CORE_SEND_CHECKS_H_
