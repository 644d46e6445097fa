// Transport: the plugin interface that carries frames to and from peers.
//
// The pump owns one Device (the TUN) and one Transport and moves frames
// between them on one thread. A transport is therefore driven, never
// threaded by the core: Send and Receive are non-blocking, and the pump
// learns when to call Receive from two readiness hints:
//
//   * readiness_fd(): a file descriptor (always valid, never -1) that
//     becomes readable when Receive may return frames (an eventfd, an
//     inotify fd, a socket);
//   * poll_interval(): the longest the pump may wait before calling
//     Receive anyway. Transports that must poll (a shared folder whose
//     writes raise no event here) return a finite, adaptive interval.
//
// Close() makes readiness_fd() readable, so a thread blocked in poll() on it
// wakes up; afterwards Send and Receive return FailedPrecondition. Close is
// idempotent.
//
// Threads: the pump calls Send, Receive and the readiness hints from one
// thread. counters(), peers() and Close() may be called from any thread (the
// status socket and signal paths do).
//
// A transport never drops silently: every frame it refuses or loses is
// counted in counters().drops under a reason.
#ifndef FSTUN_CORE_TRANSPORT_H_
#define FSTUN_CORE_TRANSPORT_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"
#include "core/ip_address.h"
#include "core/peer_status.h"

namespace fstun {

struct TransportCapabilities {
  // Frames may exceed the link MTU (GSO super-packets with a virtio header).
  bool carries_gso_frames = false;
  // Frames are routed to one of several peers by destination address.
  bool multi_peer = false;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends a batch in order. Frames larger than mtu() are refused: each is
  // counted as an "oversize" drop and the call returns InvalidArgument once
  // the other frames are sent. When the far side cannot take more (queue or
  // backlog full) frames are dropped and counted and the call returns OK, as
  // a full NIC queue would. After Close(): FailedPrecondition.
  virtual absl::Status Send(absl::Span<const FrameView> frames) = 0;

  // Send for a decorator that changes frames so that their bytes no longer
  // show where they go (sealing encrypts the IP header): destinations[i] is
  // frames[i]'s routing destination, taken from the plaintext. Multi-peer
  // transports route by it; the default ignores it.
  virtual absl::Status SendRouted(absl::Span<const FrameView> frames,
                                  absl::Span<const std::optional<IpAddress>> destinations) {
    (void)destinations;
    return Send(frames);
  }

  // Appends the frames that are ready now to `batch`, in order, until it is
  // full; never blocks. Returns how many were appended (0: nothing ready).
  // Transports do their periodic housekeeping here. After Close():
  // FailedPrecondition.
  virtual absl::StatusOr<size_t> Receive(FrameBatch& batch) = 0;

  // See the comment at the top of this file.
  virtual int readiness_fd() const = 0;
  virtual absl::Duration poll_interval() const { return absl::InfiniteDuration(); }

  // Largest frame Send accepts (without a GSO header).
  virtual size_t mtu() const = 0;
  virtual TransportCapabilities capabilities() const { return {}; }
  virtual CounterSnapshot counters() const = 0;
  // One entry per remote peer the transport knows of (may be empty).
  virtual std::vector<PeerStatus> peers() const { return {}; }

  virtual void Close() = 0;
};

}  // namespace fstun

#endif  // FSTUN_CORE_TRANSPORT_H_
