// The pump moves frames both ways between a device and a transport, stops on
// request, reports what it moved, and gives up when the device breaks.
#include "core/pump.h"

#include <thread>

#include "gtest/gtest.h"
#include "testing/fake_device.h"
#include "testing/packet_builder.h"
#include "transports/loopback/loopback_transport.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using testing::FakeDevice;
using testing::Ip;
using testing::PacketBuilder;

// Runs a pump on its own thread; stops and joins it on destruction.
class RunningPump {
 public:
  RunningPump(Device& device, Transport& transport, PumpOptions options = {})
      : pump_(device, transport, options), thread_([this] { status_ = pump_.Run(); }) {}
  ~RunningPump() { Stop().IgnoreError(); }
  absl::Status Stop() {
    pump_.Stop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  Pump& pump() { return pump_; }

 private:
  Pump pump_;
  absl::Status status_;
  std::thread thread_;
};

std::vector<uint8_t> Packet(uint32_t tag, size_t size = 200) {
  return PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), tag, size);
}

TEST(PumpTest, LoopbackEchoesEveryPacketBackToTheDevice) {
  FakeDevice device;
  LoopbackTransport transport({});
  RunningPump running(device, transport);
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < 300; ++i) {
    sent.push_back(Packet(i, 60 + i));
    ASSERT_TRUE(device.Inject(sent.back()));
  }
  ASSERT_TRUE(device.WaitForWritten(sent.size(), absl::Seconds(10)));
  EXPECT_EQ(device.Written(), sent);
  ASSERT_TRUE(running.Stop().ok());
  CounterSnapshot c = running.pump().counters();
  EXPECT_EQ(c.tx_frames, 300u);
  EXPECT_EQ(c.rx_frames, 300u);
}

TEST(PumpTest, TwoPumpsJoinedByMemoryTransportCarryBothWays) {
  FakeDevice left({.name = "left0"});
  FakeDevice right({.name = "right0"});
  MemoryTransportOptions options;
  auto [a, b] = MemoryTransport::CreatePair(options);
  RunningPump left_pump(left, *a);
  RunningPump right_pump(right, *b);
  std::vector<std::vector<uint8_t>> to_right, to_left;
  for (uint32_t i = 0; i < 500; ++i) {
    to_right.push_back(Packet(i, 100 + i % 1300));
    to_left.push_back(Packet(10000 + i, 1400 - i % 1300));
    left.Inject(to_right.back());
    right.Inject(to_left.back());
  }
  ASSERT_TRUE(right.WaitForWritten(500, absl::Seconds(10)));
  ASSERT_TRUE(left.WaitForWritten(500, absl::Seconds(10)));
  EXPECT_EQ(right.Written(), to_right);
  EXPECT_EQ(left.Written(), to_left);
}

TEST(PumpTest, StopBeforeRunReturnsAtOnce) {
  FakeDevice device;
  LoopbackTransport transport({});
  Pump pump(device, transport);
  pump.Stop();
  EXPECT_TRUE(pump.Run().ok());
}

TEST(PumpTest, OversizeFramesAreCountedAndTheRestFlows) {
  FakeDevice device({.mtu = 9000});
  LoopbackTransportOptions options;
  options.mtu = 1000;
  LoopbackTransport transport(options);
  RunningPump running(device, transport);
  device.Inject(Packet(1, 1500));  // larger than the transport's MTU
  device.Inject(Packet(2, 500));
  ASSERT_TRUE(device.WaitForWritten(1, absl::Seconds(5)));
  EXPECT_EQ(PacketBuilder::TagOf(device.Written()[0]), 2);
  ASSERT_TRUE(running.Stop().ok());
  EXPECT_EQ(transport.counters().drops_for("oversize"), 1u);
  EXPECT_EQ(running.pump().counters().drops_for("transport_refused"), 1u);
}

TEST(PumpTest, BrokenDeviceEndsTheRunWithItsError) {
  FakeDevice device;
  LoopbackTransport transport({});
  Pump pump(device, transport);
  device.SetBroken(absl::UnavailableError("device gone"));
  device.Inject(Packet(1));
  absl::Status s = pump.Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST(PumpTest, ClosedTransportEndsTheRun) {
  FakeDevice device;
  LoopbackTransport transport({});
  transport.Close();
  Pump pump(device, transport);
  EXPECT_EQ(pump.Run().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PumpTest, SummaryNamesDeviceAndCounts) {
  FakeDevice device({.name = "tun7"});
  LoopbackTransport transport({});
  RunningPump running(device, transport);
  device.Inject(Packet(1));
  ASSERT_TRUE(device.WaitForWritten(1, absl::Seconds(5)));
  ASSERT_TRUE(running.Stop().ok());
  std::string summary = running.pump().Summary();
  EXPECT_NE(summary.find("tun7->transport 1 frames"), std::string::npos) << summary;
  EXPECT_NE(summary.find("transport->tun7 1 frames"), std::string::npos) << summary;
}

}  // namespace
}  // namespace fstun
