// FakeDevice: an in-memory Device for tests that need no root and no TUN.
//
// The test plays the kernel: Inject() queues a packet as if the kernel had
// routed it into the TUN (fd() becomes readable, Read returns it), and
// Written() shows what the code under test wrote to the "kernel". Like a
// real TUN it is bounded and never drops silently: an Inject into a full
// queue is counted ("queue_full").
//
//   FakeDevice device({.name = "fake0", .mtu = 1400});
//   Pump pump(device, transport);  // run on another thread
//   device.Inject(PacketBuilder::Udp(...));
//   ASSERT_TRUE(device.WaitForWritten(1, absl::Seconds(5)));
//   EXPECT_EQ(device.Written()[0], expected);
//
// Counters follow TunDevice: rx = frames Read (from the "kernel"), tx =
// frames Written (to it). Thread-safe: the test thread may Inject and look
// at Written() while a pump thread Reads and Writes.
#ifndef FSTUN_TESTING_FAKE_DEVICE_H_
#define FSTUN_TESTING_FAKE_DEVICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/device.h"
#include "core/event_fd.h"
#include "core/frame_queue.h"

namespace fstun::testing {

struct FakeDeviceOptions {
  std::string name = "fake0";
  size_t mtu = 1500;
  // Bounds of the queue Inject fills and Read drains.
  size_t queue_frames = 1024;
  size_t queue_bytes = 16 << 20;
  // Written() keeps at most this many frames; later writes are counted as
  // drops ("written_full") so a runaway test cannot eat all memory.
  size_t max_written = 1 << 16;
};

class FakeDevice : public Device {
 public:
  explicit FakeDevice(FakeDeviceOptions options = {});

  // Queues `frame` for Read and makes fd() readable. False if the queue is
  // full (the frame is dropped and counted as "queue_full").
  bool Inject(FrameView frame);
  // Frames injected and not yet Read.
  size_t pending() const { return inbound_.size(); }

  // Copies of the frames written so far, in order.
  std::vector<std::vector<uint8_t>> Written() const;
  // Waits until at least `count` frames were written; false on timeout.
  bool WaitForWritten(size_t count, absl::Duration timeout) const;
  // Forgets the written frames (counters are kept).
  void ClearWritten();

  // From now on Read and Write fail with `error` (a device that went away);
  // OkStatus() heals it.
  void SetBroken(absl::Status error);

  absl::StatusOr<size_t> Read(FrameBatch& batch) override;
  absl::Status Write(absl::Span<const FrameView> frames) override;
  int fd() const override { return readable_.fd(); }
  const std::string& name() const override { return options_.name; }
  size_t mtu() const override { return options_.mtu; }
  CounterSnapshot counters() const override { return counters_.Snapshot(); }

 private:
  absl::Status broken() const;

  const FakeDeviceOptions options_;
  FrameQueue inbound_;
  EventFd readable_;
  Counters counters_;
  mutable absl::Mutex mu_;
  std::vector<std::vector<uint8_t>> written_ ABSL_GUARDED_BY(mu_);
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fstun::testing

#endif  // FSTUN_TESTING_FAKE_DEVICE_H_
