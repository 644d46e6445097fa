// Pump: moves frames between a Device (the TUN) and a Transport until
// stopped.
//
// Data path, in the order frames flow (one thread, one poll loop):
//   1. ppoll() on the stop eventfd, the device fd and the transport's
//      readiness fd, with the transport's poll_interval() as the timeout.
//   2. Device readable: Read a batch (up to batch_size packets), Send it to
//      the transport; repeat a few rounds while packets keep coming.
//   3. Always after a wake-up: Receive a batch from the transport, Write it
//      to the device; repeat while frames keep coming.
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
};

class Pump {
 public:
  Pump(Device& device, Transport& transport, PumpOptions options = {});
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Runs until Stop() (returns OK) or until the device or transport fails
  // (returns that error).
  absl::Status Run();
  // Makes Run() return soon. Async-signal-safe; callable before Run().
  void Stop() { stop_.Signal(); }

  // tx: frames the pump read from the device and handed to the transport;
  // rx: frames it received from the transport and wrote to the device;
  // drops: frames the transport refused ("transport_refused").
  CounterSnapshot counters() const { return counters_.Snapshot(); }
  // One line for the exit log.
  std::string Summary() const;

 private:
  absl::Status DeviceToTransport();
  absl::Status TransportToDevice();

  Device& device_;
  Transport& transport_;
  PumpOptions options_;
  FrameBatch outbound_;
  FrameBatch inbound_;
  EventFd stop_;
  Counters counters_;
  absl::Time started_ = absl::InfinitePast();
  absl::Time stopped_ = absl::InfinitePast();
  uint64_t refused_logged_ = 0;
};

}  // namespace fstun

#endif  // FSTUN_CORE_PUMP_H_
