#include "testing/fake_device.h"

#include <thread>
#include <vector>

#include "core/event_fd.h"
#include "core/frame.h"
#include "core/send_checks.h"
#include "gtest/gtest.h"
#include "testing/packet_builder.h"

namespace fstun::testing {
namespace {

std::vector<uint8_t> Packet(uint32_t tag) {
  return PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), tag, 100);
}

TEST(FakeDeviceTest, InjectedFramesAreReadInOrderAndTheFdTellsWhen) {
  FakeDevice device;
  EXPECT_FALSE(WaitReadable(device.fd(), absl::ZeroDuration()));
  ASSERT_TRUE(device.Inject(Packet(1)));
  ASSERT_TRUE(device.Inject(Packet(2)));
  EXPECT_TRUE(WaitReadable(device.fd(), absl::ZeroDuration()));

  FrameBatch batch(8, kMaxFrameSize);
  absl::StatusOr<size_t> n = device.Read(batch);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 2u);
  EXPECT_EQ(PacketBuilder::TagOf(batch[0]), 1);
  EXPECT_EQ(PacketBuilder::TagOf(batch[1]), 2);
  EXPECT_FALSE(WaitReadable(device.fd(), absl::ZeroDuration()));
  EXPECT_EQ(device.counters().rx_frames, 2u);
  EXPECT_EQ(device.counters().rx_bytes, 200u);

  batch.Clear();
  n = device.Read(batch);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST(FakeDeviceTest, StaysReadableWhileMoreIsQueuedThanABatchHolds) {
  FakeDevice device;
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(device.Inject(Packet(i)));
  FrameBatch batch(3, kMaxFrameSize);
  ASSERT_EQ(*device.Read(batch), 3u);
  EXPECT_TRUE(WaitReadable(device.fd(), absl::ZeroDuration()));
  EXPECT_EQ(device.pending(), 2u);
  batch.Clear();
  ASSERT_EQ(*device.Read(batch), 2u);
  EXPECT_EQ(PacketBuilder::TagOf(batch[0]), 3);
  EXPECT_FALSE(WaitReadable(device.fd(), absl::ZeroDuration()));
}

TEST(FakeDeviceTest, AFullQueueRefusesAndCountsTheDrop) {
  FakeDeviceOptions options;
  options.queue_frames = 2;
  FakeDevice device(options);
  EXPECT_TRUE(device.Inject(Packet(1)));
  EXPECT_TRUE(device.Inject(Packet(2)));
  EXPECT_FALSE(device.Inject(Packet(3)));
  EXPECT_EQ(device.counters().drops_for(kDropQueueFull), 1u);
  EXPECT_EQ(device.pending(), 2u);
}

TEST(FakeDeviceTest, WrittenFramesAreKeptAndCounted) {
  FakeDevice device;
  std::vector<uint8_t> a = Packet(7), b = Packet(8);
  std::vector<FrameView> frames = {a, FrameView(), b};
  ASSERT_TRUE(device.Write(frames).ok());
  std::vector<std::vector<uint8_t>> written = device.Written();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0], a);
  EXPECT_EQ(written[1], b);
  CounterSnapshot c = device.counters();
  EXPECT_EQ(c.tx_frames, 2u);
  EXPECT_EQ(c.tx_bytes, 200u);
  EXPECT_EQ(c.drops_for(kDropEmpty), 1u);

  device.ClearWritten();
  EXPECT_TRUE(device.Written().empty());
}

TEST(FakeDeviceTest, WrittenIsBoundedWithCountedDrops) {
  FakeDeviceOptions options;
  options.max_written = 1;
  FakeDevice device(options);
  std::vector<uint8_t> a = Packet(1);
  std::vector<FrameView> frames = {a, a};
  ASSERT_TRUE(device.Write(frames).ok());
  EXPECT_EQ(device.Written().size(), 1u);
  EXPECT_EQ(device.counters().drops_for("written_full"), 1u);
}

TEST(FakeDeviceTest, WaitForWrittenWakesWhenAnotherThreadWrites) {
  FakeDevice device;
  EXPECT_FALSE(device.WaitForWritten(1, absl::Milliseconds(10)));
  std::vector<uint8_t> a = Packet(1);
  std::thread writer([&] {
    std::vector<FrameView> frames = {a, a};
    ASSERT_TRUE(device.Write(frames).ok());
  });
  EXPECT_TRUE(device.WaitForWritten(2, absl::Seconds(30)));
  writer.join();
}

TEST(FakeDeviceTest, ABrokenDeviceFailsReadAndWriteAndWakesThePoller) {
  FakeDevice device;
  device.SetBroken(absl::UnavailableError("fake0 was removed"));
  EXPECT_TRUE(WaitReadable(device.fd(), absl::ZeroDuration()));
  FrameBatch batch(4, 2048);
  EXPECT_EQ(device.Read(batch).status().message(), "fake0 was removed");
  std::vector<uint8_t> a = Packet(1);
  EXPECT_TRUE(absl::IsUnavailable(device.Write({FrameView(a)})));
  device.SetBroken(absl::OkStatus());
  EXPECT_TRUE(device.Write({FrameView(a)}).ok());
}

TEST(FakeDeviceTest, ReportsItsNameAndMtu) {
  FakeDeviceOptions options;
  options.name = "fake7";
  options.mtu = 1280;
  FakeDevice device(options);
  EXPECT_EQ(device.name(), "fake7");
  EXPECT_EQ(device.mtu(), 1280u);
}

}  // namespace
}  // namespace fstun::testing
