#include "testing/transport_conformance.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/event_fd.h"
#include "core/frame.h"
#include "testing/packet_builder.h"

namespace fstun::testing {
namespace {

constexpr absl::Duration kDeliveryTimeout = absl::Seconds(20);

std::vector<FrameView> Views(const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<FrameView> v;
  for (const auto& f : frames) v.emplace_back(f);
  return v;
}

}  // namespace

std::string ConformanceParamName(const ::testing::TestParamInfo<ConformanceParam>& info) {
  return info.param.name;
}

std::vector<std::vector<uint8_t>> ReceiveFrames(Transport& t, size_t count, absl::Duration timeout,
                                                absl::Duration idle_timeout,
                                                size_t batch_capacity) {
  std::vector<std::vector<uint8_t>> out;
  FrameBatch batch(batch_capacity, kMaxFrameSize);
  absl::Time deadline = absl::Now() + timeout;
  absl::Time last_frame = absl::Now();
  // At least one pass, so a zero timeout takes what is ready now.
  for (bool first = true; out.size() < count && (first || absl::Now() < deadline); first = false) {
    batch.Clear();
    absl::StatusOr<size_t> n = t.Receive(batch);
    if (!n.ok()) {
      ADD_FAILURE() << "Receive failed: " << n.status();
      break;
    }
    for (FrameView f : batch.frames()) out.emplace_back(f.begin(), f.end());
    if (*n > 0) {
      last_frame = absl::Now();
      continue;
    }
    if (absl::Now() - last_frame > idle_timeout) break;
    absl::Duration wait =
        std::min({t.poll_interval(), absl::Milliseconds(50), deadline - absl::Now()});
    if (wait > absl::ZeroDuration()) WaitReadable(t.readiness_fd(), wait);
  }
  return out;
}

void TransportConformanceTest::SetUp() {
  absl::StatusOr<TransportPair> pair = GetParam().make(setup_);
  ASSERT_TRUE(pair.ok()) << pair.status();
  pair_ = std::move(*pair);
  ASSERT_NE(pair_.a, nullptr);
}

void TransportConformanceTest::TearDown() {
  if (pair_.b) pair_.b->Close();
  if (pair_.a) pair_.a->Close();
  pair_.b.reset();
  pair_.a.reset();
}

class ConformanceFrames {
 public:
  explicit ConformanceFrames(const ConformanceSetup& s) : s_(s) {}
  // A valid UDP packet a->b of `size` bytes tagged with `tag`.
  std::vector<uint8_t> Make(uint32_t tag, size_t size) const {
    return PacketBuilder::TaggedUdp(s_.a_address.address, s_.b_address.address, tag, size);
  }

 private:
  const ConformanceSetup& s_;
};

TEST_P(TransportConformanceTest, ReceiveWithNothingSentReturnsZeroAtOnce) {
  FrameBatch batch(8, kMaxFrameSize);
  absl::Time start = absl::Now();
  absl::StatusOr<size_t> n = pair_.receiver().Receive(batch);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "Receive must not block";
  EXPECT_GE(pair_.receiver().readiness_fd(), 0);
  EXPECT_EQ(pair_.sender().mtu(), setup_.mtu);
}

TEST_P(TransportConformanceTest, FramesArriveIntactAndInOrder) {
  ConformanceFrames make(setup_);
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> size_dist(48, setup_.mtu);
  std::uniform_int_distribution<size_t> batch_dist(1, 40);
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < 600; ++i) sent.push_back(make.Make(i, size_dist(rng)));
  std::vector<std::vector<uint8_t>> got;
  size_t i = 0;
  while (i < sent.size()) {
    size_t n = std::min(batch_dist(rng), sent.size() - i);
    std::vector<FrameView> views(sent.begin() + i, sent.begin() + i + n);
    ASSERT_TRUE(pair_.sender().Send(views).ok());
    i += n;
    // Drain what is ready now so no queue bound is reached.
    for (auto& f : ReceiveFrames(pair_.receiver(), sent.size(), absl::ZeroDuration()))
      got.push_back(std::move(f));
  }
  for (auto& f : ReceiveFrames(pair_.receiver(), sent.size() - got.size(), kDeliveryTimeout))
    got.push_back(std::move(f));
  ASSERT_EQ(got.size(), sent.size());
  for (size_t k = 0; k < sent.size(); ++k) {
    ASSERT_EQ(got[k], sent[k]) << "frame " << k << " differs (tag " << PacketBuilder::TagOf(got[k])
                               << ")";
  }
}

TEST_P(TransportConformanceTest, BatchBoundariesDoNotMatter) {
  ConformanceFrames make(setup_);
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < 64; ++i) sent.push_back(make.Make(i, 100 + i * 7));
  // One batch of 64, then 64 batches of one.
  ASSERT_TRUE(pair_.sender().Send(Views(sent)).ok());
  for (const auto& f : sent) ASSERT_TRUE(pair_.sender().Send({FrameView(f)}).ok());
  // Receive with odd batch sizes.
  std::vector<std::vector<uint8_t>> got;
  for (size_t cap : {1, 7, 64}) {
    for (auto& f : ReceiveFrames(pair_.receiver(), cap == 64 ? 128 - got.size() : 20,
                                 kDeliveryTimeout, absl::InfiniteDuration(), cap)) {
      got.push_back(std::move(f));
    }
  }
  ASSERT_EQ(got.size(), 128u);
  for (size_t k = 0; k < 128; ++k) EXPECT_EQ(got[k], sent[k % 64]) << k;
}

TEST_P(TransportConformanceTest, FramesUpToMtuPassLargerAreRefused) {
  ConformanceFrames make(setup_);
  std::vector<uint8_t> at_mtu = make.Make(1, setup_.mtu);
  std::vector<uint8_t> too_big = make.Make(2, setup_.mtu + 1);
  std::vector<uint8_t> after = make.Make(3, 200);
  absl::Status s = pair_.sender().Send({FrameView(at_mtu), FrameView(too_big), FrameView(after)});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(s.message().empty());
  std::vector<std::vector<uint8_t>> got = ReceiveFrames(pair_.receiver(), 2, kDeliveryTimeout);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], at_mtu);
  EXPECT_EQ(got[1], after);
  EXPECT_EQ(pair_.sender().counters().drops_for("oversize"), 1u);
  // Nothing else arrives.
  EXPECT_TRUE(ReceiveFrames(pair_.receiver(), 1, absl::Milliseconds(300)).empty());
}

TEST_P(TransportConformanceTest, CloseWakesBlockedReceiver) {
  Transport& receiver = pair_.receiver();
  std::atomic<bool> woke{false};
  std::thread waiter([&] { woke = WaitReadable(receiver.readiness_fd(), absl::Seconds(10)); });
  absl::SleepFor(absl::Milliseconds(100));  // let the waiter block
  absl::Time closed_at = absl::Now();
  receiver.Close();
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(absl::Now() - closed_at, absl::Seconds(5));
  FrameBatch batch(4, kMaxFrameSize);
  EXPECT_EQ(receiver.Receive(batch).status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<uint8_t> f = ConformanceFrames(setup_).Make(1, 100);
  EXPECT_EQ(receiver.Send({FrameView(f)}).code(), absl::StatusCode::kFailedPrecondition);
  receiver.Close();  // idempotent
}

TEST_P(TransportConformanceTest, CountersMatchWhatWasSent) {
  ConformanceFrames make(setup_);
  std::vector<std::vector<uint8_t>> sent;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < 50; ++i) {
    sent.push_back(make.Make(i, 60 + i * 11));
    bytes += sent.back().size();
  }
  CounterSnapshot a0 = pair_.sender().counters();
  CounterSnapshot b0 = pair_.receiver().counters();
  ASSERT_TRUE(pair_.sender().Send(Views(sent)).ok());
  ASSERT_EQ(ReceiveFrames(pair_.receiver(), sent.size(), kDeliveryTimeout).size(), sent.size());
  CounterSnapshot a1 = pair_.sender().counters();
  CounterSnapshot b1 = pair_.receiver().counters();
  EXPECT_EQ(a1.tx_frames - a0.tx_frames, sent.size());
  EXPECT_EQ(a1.tx_bytes - a0.tx_bytes, bytes);
  EXPECT_EQ(b1.rx_frames - b0.rx_frames, sent.size());
  EXPECT_EQ(b1.rx_bytes - b0.rx_bytes, bytes);
  EXPECT_EQ(a1.total_drops(), 0u);
  EXPECT_EQ(b1.total_drops(), 0u);
}

TEST_P(TransportConformanceTest, ReceiverThatDoesNotReadMakesSenderDropNotBlock) {
  ConformanceFrames make(setup_);
  // 8x the configured queue bound, sent without reading.
  const size_t frame_size = 1000;
  const size_t count = setup_.queue_bytes * 8 / frame_size;
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < count; ++i) sent.push_back(make.Make(i, frame_size));
  absl::Time start = absl::Now();
  for (size_t i = 0; i < count; i += 32) {
    std::vector<FrameView> views(sent.begin() + i, sent.begin() + std::min(count, i + 32));
    ASSERT_TRUE(pair_.sender().Send(views).ok());
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "Send must not wait for the receiver";
  std::vector<std::vector<uint8_t>> got =
      ReceiveFrames(pair_.receiver(), count, kDeliveryTimeout, absl::Seconds(2));
  uint64_t drops = pair_.sender().counters().total_drops();
  if (pair_.b) drops += pair_.receiver().counters().total_drops();
  EXPECT_GT(drops, 0u) << "a bounded transport must drop when nobody reads";
  EXPECT_LT(got.size(), count);
  EXPECT_EQ(got.size() + drops, count) << "every frame is either delivered or counted as dropped";
  // What arrived is in order and intact.
  int64_t last = -1;
  for (const auto& f : got) {
    int64_t tag = PacketBuilder::TagOf(f);
    ASSERT_GT(tag, last);
    last = tag;
  }
}

}  // namespace fstun::testing
