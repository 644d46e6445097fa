// FlowDevice: an in-memory Device for micro-benchmarks of the pump.
//
// Read() produces copies of one prepared packet; Write() counts what comes
// back and calls a callback once a target count is reached (the benchmark
// stops its pumps there). A window bounds the frames in flight between the
// producing and the consuming FlowDevice (which may be the same object), so
// a benchmark measures delivered frames rather than queue overflows: while
// the window is full, fd() is not readable and the pump sleeps in poll().
//
//   FlowControl flow(/*window=*/1024);
//   FlowDevice source(packet, &flow), sink({}, &flow);
//   sink.StopAfter(100000, [&] { pump_a.Stop(); pump_b.Stop(); });
#ifndef FSTUN_BENCH_FLOW_DEVICE_H_
#define FSTUN_BENCH_FLOW_DEVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/counters.h"
#include "core/device.h"
#include "core/event_fd.h"

namespace fstun::bench {

// Shared between the producing and the consuming device.
struct FlowControl {
  explicit FlowControl(uint64_t window) : window(window) {}
  const uint64_t window;
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> consumed{0};
  EventFd credit;  // readable while the producer may produce
};

class FlowDevice : public Device {
 public:
  // `packet` empty: this device never produces (a sink only).
  FlowDevice(std::vector<uint8_t> packet, FlowControl* flow);

  // Calls `on_target` once, when `frames` frames in total have been written.
  void StopAfter(uint64_t frames, std::function<void()> on_target);

  absl::StatusOr<size_t> Read(FrameBatch& batch) override;
  absl::Status Write(absl::Span<const FrameView> frames) override;
  int fd() const override { return fd_; }
  const std::string& name() const override { return name_; }
  size_t mtu() const override { return kMaxFrameSize; }
  CounterSnapshot counters() const override { return counters_.Snapshot(); }

  uint64_t written() const { return written_; }

 private:
  const std::vector<uint8_t> packet_;
  FlowControl* const flow_;
  EventFd never_ready_;  // the sink's fd: never signalled
  int fd_;
  const std::string name_ = "flow";
  uint64_t written_ = 0;
  uint64_t target_ = 0;
  std::function<void()> on_target_;
  Counters counters_;
};

}  // namespace fstun::bench

#endif  // FSTUN_BENCH_FLOW_DEVICE_H_
