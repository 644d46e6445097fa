// The pump moves frames both ways between a device and a transport, stops on
// request, reports what it moved, and gives up when the device breaks.
#include "core/pump.h"

#include <poll.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "core/event_fd.h"
#include "gtest/gtest.h"
#include "testing/fake_device.h"
#include "testing/packet_builder.h"
#include "testing/vnet_frames.h"
#include "transports/loopback/loopback_transport.h"
#include "transports/memory/memory_transport.h"
#include "vnet/header.h"

namespace fstun {
namespace {

using testing::FakeDevice;
using testing::GsoSuperPacket;
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
  // The peer said it takes 1000 bytes: the routing stage drops the frame.
  EXPECT_EQ(running.pump().counters().drops_for("peer_mtu"), 1u);
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

// A multi-peer transport: reports the peers it is given, records what it is
// sent per peer, takes at most `budget` frames in all (backpressure), and
// delivers frames injected as coming from a peer.
class FakePeersTransport : public Transport {
 public:
  explicit FakePeersTransport(std::vector<PeerInfo> peers, size_t budget = SIZE_MAX)
      : peers_(std::move(peers)), budget_(budget) {}

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override {
    absl::MutexLock lock(&mu_);
    size_t n = std::min(frames.size(), budget_);
    budget_ -= n;
    for (size_t i = 0; i < n; ++i) sent_.push_back({to, {frames[i].begin(), frames[i].end()}});
    return n;
  }
  absl::StatusOr<Received> Receive(FrameBatch& batch) override {
    absl::MutexLock lock(&mu_);
    ready_.Drain();
    Received got;
    while (!inbox_.empty() && !batch.full() &&
           (got.frames == 0 || inbox_.front().first == got.from)) {
      got.from = inbox_.front().first;
      batch.Append(inbox_.front().second);
      inbox_.pop_front();
      ++got.frames;
    }
    if (!inbox_.empty()) ready_.Signal();
    calls_.push_back({sent_.size(), got.frames});
    return got;
  }
  void SetPeerObserver(PeerObserver* observer) override {
    for (const PeerInfo& p : peers_) observer->PeerUp(p);
  }
  absl::InlinedVector<WaitFd, 2> wait_fds() const override { return {{ready_.fd(), POLLIN}}; }
  size_t mtu() const override { return 1500; }
  SyscallNeeds syscalls() const override { return {}; }
  CounterSnapshot counters() const override { return {}; }
  void Close() override {}

  void SetBudget(size_t n) {
    absl::MutexLock lock(&mu_);
    budget_ = n;
    ready_.Signal();  // as a socket turning writable would
  }
  void Inject(const PeerId& from, std::vector<uint8_t> frame) {
    absl::MutexLock lock(&mu_);
    inbox_.push_back({from, std::move(frame)});
    ready_.Signal();
  }
  std::vector<std::pair<PeerId, std::vector<uint8_t>>> Sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  // Per Receive call: how many frames had been sent before it, and how
  // many it returned.
  std::vector<std::pair<size_t, size_t>> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  bool WaitForSent(size_t n, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Sent().size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

 private:
  const std::vector<PeerInfo> peers_;
  absl::Mutex mu_;
  size_t budget_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<PeerId, std::vector<uint8_t>>> sent_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<PeerId, std::vector<uint8_t>>> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<size_t, size_t>> calls_ ABSL_GUARDED_BY(mu_);
  EventFd ready_;
};

PeerInfo PeerAt(const char* id, const char* prefix, bool takes_vnet = false) {
  PeerInfo p;
  p.id = id;
  p.prefixes = {*IpPrefix::Parse(prefix)};
  p.takes_vnet = takes_vnet;
  p.mtu = 1500;
  return p;
}

std::vector<uint8_t> To(const char* dst, uint32_t tag) {
  return PacketBuilder::TaggedUdp(Ip("192.0.2.1"), Ip(dst), tag, 120);
}

TEST(PumpRoutingTest, EachFrameGoesToThePeerOfItsDestinationInOrder) {
  FakeDevice device;
  FakePeersTransport transport({PeerAt("c1", "192.0.2.2/32"), PeerAt("c2", "192.0.2.3/32")});
  RunningPump running(device, transport);
  for (uint32_t i = 0; i < 40; ++i) device.Inject(To(i % 2 ? "192.0.2.3" : "192.0.2.2", i));
  device.Inject(To("203.0.113.9", 99));  // nobody's: dropped and counted
  ASSERT_TRUE(transport.WaitForSent(40, absl::Seconds(10)));
  ASSERT_TRUE(running.Stop().ok());
  std::vector<int64_t> c1, c2;
  for (const auto& [peer, frame] : transport.Sent()) {
    (peer == "c1" ? c1 : c2).push_back(PacketBuilder::TagOf(frame));
    EXPECT_TRUE(peer == "c1" || peer == "c2") << peer;
  }
  ASSERT_EQ(c1.size(), 20u);
  ASSERT_EQ(c2.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(c1[i], static_cast<int64_t>(2 * i));
    EXPECT_EQ(c2[i], static_cast<int64_t>(2 * i + 1));
  }
  EXPECT_EQ(running.pump().counters().drops_for("no_route"), 1u);
}

// Plays a kernel that answers each packet written to it at once (a ping's
// echo reply, a TCP ACK): the answer is readable when Write returns.
class AnsweringDevice : public FakeDevice {
 public:
  absl::Status Write(absl::Span<const FrameView> frames) override {
    absl::Status s = FakeDevice::Write(frames);
    for (FrameView f : frames) Inject(To("192.0.2.2", PacketBuilder::TagOf(f) + 1000));
    return s;
  }
};

// On a shared folder each Receive is a look at the share, a round trip: the
// answer must not wait for one more look before it goes out.
TEST(PumpRoutingTest, WhatTheDeviceAnswersGoesOutBeforeTheTransportIsLookedAtAgain) {
  AnsweringDevice device;
  FakePeersTransport transport({PeerAt("c1", "192.0.2.2/32")});
  RunningPump running(device, transport);
  transport.Inject("c1", Packet(7));
  ASSERT_TRUE(transport.WaitForSent(1, absl::Seconds(10)));
  ASSERT_TRUE(running.Stop().ok());
  EXPECT_EQ(PacketBuilder::TagOf(transport.Sent()[0].second), 1007);
  const auto calls = transport.Calls();
  auto delivered = std::find_if(calls.begin(), calls.end(), [](auto c) { return c.second > 0; });
  ASSERT_NE(delivered, calls.end());
  ASSERT_NE(delivered + 1, calls.end()) << "the pump looks again after the answer";
  EXPECT_EQ((delivered + 1)->first, 1u) << "the answer was sent before the next look";
}

TEST(PumpRoutingTest, FramesTheTransportCannotTakeYetWaitInOrder) {
  FakeDevice device;
  FakePeersTransport transport({PeerAt("c1", "192.0.2.2/32")}, /*budget=*/3);
  RunningPump running(device, transport);
  for (uint32_t i = 0; i < 10; ++i) device.Inject(To("192.0.2.2", i));
  ASSERT_TRUE(transport.WaitForSent(3, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(transport.Sent().size(), 3u) << "the transport took only 3";
  transport.SetBudget(1000);
  ASSERT_TRUE(transport.WaitForSent(10, absl::Seconds(10)));
  ASSERT_TRUE(running.Stop().ok());
  std::vector<std::pair<PeerId, std::vector<uint8_t>>> sent = transport.Sent();
  ASSERT_EQ(sent.size(), 10u);
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(PacketBuilder::TagOf(sent[i].second), i);
  EXPECT_EQ(running.pump().counters().total_drops(), 0u);
}

TEST(PumpRoutingTest, AConfiguredPeerCannotSendFromAnotherPeersAddress) {
  FakeDevice device;
  FakePeersTransport transport({PeerAt("c1", "192.0.2.0/24"), PeerAt("c2", "198.51.100.0/24")});
  Pump pump(device, transport);
  pump.routing_table().ConfigurePeer("c1", {*IpPrefix::Parse("192.0.2.2/32")});
  std::thread thread([&] { pump.Run().IgnoreError(); });
  auto from = [](const char* src, uint32_t tag) {
    return PacketBuilder::TaggedUdp(Ip(src), Ip("192.0.2.1"), tag, 100);
  };
  transport.Inject("c1", from("192.0.2.2", 1));
  transport.Inject("c1", from("198.51.100.5", 2));  // c2's address: spoofed
  transport.Inject("c2", from("198.51.100.5", 3));  // c2 has no configured prefixes
  ASSERT_TRUE(device.WaitForWritten(2, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(100));
  pump.Stop();
  thread.join();
  std::vector<int64_t> tags;
  for (const auto& f : device.Written()) tags.push_back(PacketBuilder::TagOf(f));
  EXPECT_EQ(tags, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(pump.counters().drops_for("source_not_allowed"), 1u);
}

TEST(PumpRoutingTest, SuperPacketsAreCutForAPeerWithoutOffloadsAndItsPacketsGetAHeader) {
  FakeDevice device;
  FakePeersTransport transport(
      {PeerAt("plain", "192.0.2.2/32", false), PeerAt("vnet", "192.0.2.3/32", true)});
  PumpOptions options;
  options.device_format = FrameFormat::kVnet;
  RunningPump running(device, transport, options);
  // A UDP super-packet of 4 x 1000 payload bytes, as an offloading TUN reads it.
  std::vector<uint8_t> payload(4000, 0x5a);
  auto super = [&](const char* dst) {
    return GsoSuperPacket(PacketBuilder::Udp(Ip("192.0.2.1"), Ip(dst), 1, 2, payload), 1000);
  };
  device.Inject(super("192.0.2.2"));
  device.Inject(super("192.0.2.3"));
  ASSERT_TRUE(transport.WaitForSent(5, absl::Seconds(10)));
  std::vector<std::pair<PeerId, std::vector<uint8_t>>> sent = transport.Sent();
  ASSERT_EQ(sent.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(sent[i].first, "plain");
    EXPECT_EQ(sent[i].second.size(), 20u + 8 + 1000) << "a plain segment";
  }
  EXPECT_EQ(sent[4].first, "vnet");
  EXPECT_EQ(sent[4].second, super("192.0.2.3")) << "unchanged for an offloading peer";
  // Inbound: the plain peer's packet gets an empty header for the TUN.
  std::vector<uint8_t> reply = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 7, 80);
  transport.Inject("plain", reply);
  ASSERT_TRUE(device.WaitForWritten(1, absl::Seconds(10)));
  EXPECT_EQ(device.Written()[0], WithEmptyVnetHeader(reply));
  ASSERT_TRUE(running.Stop().ok());
}

}  // namespace
}  // namespace fstun
