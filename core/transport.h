// Transport: the plugin interface that carries frames to and from peers.
//
// The pump owns one Device (the TUN) and one Transport and moves frames
// between them on one thread; above the transport, the core's routing table
// (core/routing_table.h) picks each frame's peer from its plaintext IP
// destination, as wireguard-go's allowedips does above conn.Bind. A
// transport therefore never parses IP: it carries frames for an explicit
// peer, reports the peers it learns of, and says when it wants to be called.
//
//   Send(to, frames)    frames for ONE peer, in order; returns how many it
//                       took (the rest: backpressure, offered again later)
//   Receive(batch)      frames ready now, all from one peer (`from`)
//   SetPeerObserver(o)  the transport tells o about peers coming and going
//   wait_fds()          fds and events (readable and/or writable) after
//                       which Send or Receive may make progress
//   poll_interval()     the longest the pump may wait before calling
//                       Receive anyway (transports that must poll)
//   syscalls()          what Send/Receive/Close ask of the kernel, for the
//                       seccomp filter (core/syscalls.h)
//
// Close() makes one of wait_fds() readable, so a thread blocked in poll() on
// it wakes up; afterwards Send and Receive return FailedPrecondition. Close
// is idempotent.
//
// Threads: the pump calls Send, Receive, SetPeerObserver and the readiness
// hints from one thread. counters(), peers() and Close() may be called from
// any thread (the status socket and signal paths do).
//
// A transport never drops silently: every frame it refuses or loses is
// counted in counters().drops under a reason.
#ifndef FSTUN_CORE_TRANSPORT_H_
#define FSTUN_CORE_TRANSPORT_H_

#include <cstddef>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"
#include "core/peer.h"
#include "core/peer_status.h"
#include "core/syscalls.h"

namespace fstun {

struct TransportCapabilities {
  // Frames may exceed the link MTU: kVnet super-packets of up to
  // kMaxFrameSize (the daemon turns the TUN's offloads on only then).
  bool carries_gso_frames = false;
};

// One fd the pump polls for the transport; events: POLLIN and/or POLLOUT.
struct WaitFd {
  int fd = -1;
  short events = 0;
};

class Transport {
 public:
  struct Received {
    size_t frames = 0;  // appended to the batch by this call
    PeerId from;        // who sent all of them (empty when frames == 0)
  };

  virtual ~Transport() = default;

  // Sends `frames` to peer `to`, in order; never blocks. Returns how many of
  // the first frames it took: sent, or dropped and counted (larger than
  // mtu(): "oversize"; the peer is unknown or gone: "no_route"; its queue or
  // backlog is full: "queue_full"/"backlog_full", as a full NIC queue
  // would). Fewer than frames.size() means "no room right now": the caller
  // keeps the rest and offers them again after one of wait_fds() fired (a
  // transport that returns less should then ask for POLLOUT) or after
  // poll_interval(). An error only if the transport is broken; after
  // Close(): FailedPrecondition.
  virtual absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) = 0;

  // Appends frames that are ready now to `batch`, in order, all from one
  // peer, until the batch is full; never blocks. Frames of other peers wait
  // for the next call. Transports do their periodic housekeeping here.
  // After Close(): FailedPrecondition.
  virtual absl::StatusOr<Received> Receive(FrameBatch& batch) = 0;

  // Called once, before the first Send or Receive. The transport reports the
  // peers it knows at once, and later changes from inside Send or Receive.
  // A point-to-point transport reports its one peer (no prefixes: the table
  // routes everything to the only peer).
  virtual void SetPeerObserver(PeerObserver* observer) = 0;

  // See the comment at the top of this file. Called before every poll.
  virtual absl::InlinedVector<WaitFd, 2> wait_fds() const = 0;
  virtual absl::Duration poll_interval() const { return absl::InfiniteDuration(); }

  // Largest frame Send accepts (without a vnet header).
  virtual size_t mtu() const = 0;
  virtual TransportCapabilities capabilities() const { return {}; }
  // The system calls the data path of this transport makes after set-up.
  virtual SyscallNeeds syscalls() const = 0;
  virtual CounterSnapshot counters() const = 0;
  // One entry per remote peer the transport knows of (may be empty).
  virtual std::vector<PeerStatus> peers() const { return {}; }

  virtual void Close() = 0;
};

}  // namespace fstun

#endif  // FSTUN_CORE_TRANSPORT_H_
