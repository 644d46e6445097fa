// Pump: moves frames between a Device (the TUN) and a Transport until
// stopped, routing each frame to a peer on the way (core/router.h).
//
// Data path, in the order frames flow (one thread, one poll loop):
//   1. ppoll() on the stop eventfd, the device fd (unless frames are still
//      waiting for the transport) and the transport's wait_fds(), with the
//      transport's poll_interval() as the timeout.
//   2. Frames still pending from a partial Send are offered again first.
//   3. Device readable: Read a batch (up to batch_size packets), route it:
//      per frame the RoutingTable picks the peer from the plaintext
//      destination, the frame is adapted to the peer's format, and runs of
//      frames go to Transport::Send(peer, ...). Repeat a few rounds while
//      packets keep coming and the transport keeps taking them.
//   4. Always after a wake-up: Receive a batch (all from one peer), drop
//      frames with a source that peer may not use, adapt them to the
//      device's format, Write them to the device; repeat while frames come,
//      unless the device has frames by then (a reply the kernel queued
//      while taking the write, an ACK): those go first (back to 1, which
//      finds the device readable at once), and the next Receive after them.
//      On a shared folder a Receive is a look at the share (a round trip
//      on FUSE, NFS, SMB, sshfs): a reply waited for one look too many.
// One thread fits the 2-core machines we target: the kernel's work in TUN
// writes runs on the pump's thread, and a second pump thread did not pay
// (docs/architecture.md). There is no sleep anywhere in the loop.
//
// Stop() is async-signal-safe: a SIGINT/SIGTERM handler may call it.
#ifndef FSTUN_CORE_PUMP_H_
#define FSTUN_CORE_PUMP_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/device.h"
#include "core/event_fd.h"
#include "core/frame.h"
#include "core/router.h"
#include "core/routing_table.h"
#include "core/transport.h"

namespace fstun {

struct PumpOptions {
  // Packets per Read/Receive call. 64 keeps a batch of full-size GSO frames
  // at ~4 MiB while amortising a wake-up over many small packets.
  size_t batch_size = 64;
  // Bytes per frame slot: the largest frame the pump can carry.
  size_t frame_capacity = kMaxFrameSize;
  // Batches moved per direction per wake-up before the other direction gets
  // its turn, so one busy direction cannot starve the other.
  int rounds_per_wakeup = 8;
  // The device's frames (a TUN with vnet headers: kVnet).
  FrameFormat device_format = FrameFormat::kIp;
  // Routing (core/routing_table.h): this end is a client, so what matches
  // no peer's prefix goes to the server.
  bool client = false;
};

class Pump {
 public:
  // Gives the transport the routing table as its PeerObserver.
  Pump(Device& device, Transport& transport, PumpOptions options = {});
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Runs until Stop() (returns OK) or until the device or transport fails
  // (returns that error).
  absl::Status Run();
  // Makes Run() return soon. Async-signal-safe; callable before Run().
  void Stop() { stop_.Signal(); }

  // The peers the transport reported; configure peers here before Run.
  RoutingTable& routing_table() { return table_; }
  const RoutingTable& routing_table() const { return table_; }

  // tx: frames the pump read from the device and routed; rx: frames it
  // received from the transport and wrote to the device; drops: the routing
  // stage's (no_route, peer_mtu, bad_offload_frame, source_not_allowed).
  CounterSnapshot counters() const { return counters_.Snapshot(); }
  // One line for the exit log.
  std::string Summary() const;

 private:
  absl::Status DeviceToTransport();
  absl::Status TransportToDevice();
  // The device has frames to read now (a poll that does not wait).
  bool DeviceReadable() const;

  Device& device_;
  Transport& transport_;
  PumpOptions options_;
  FrameBatch outbound_;
  FrameBatch inbound_;
  EventFd stop_;
  Counters counters_;
  RoutingTable table_;
  Router router_;
  absl::Time started_ = absl::InfinitePast();
  absl::Time stopped_ = absl::InfinitePast();
};

}  // namespace fstun

#endif  // FSTUN_CORE_PUMP_H_
