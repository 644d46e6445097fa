#include "testing/transport_conformance.h"

#include <poll.h>

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

bool WaitForTransport(const Transport& t, absl::Duration timeout, bool readable_only) {
  std::vector<struct pollfd> fds;
  for (const WaitFd& w : t.wait_fds()) {
    fds.push_back({w.fd, static_cast<short>(readable_only ? POLLIN : w.events), 0});
  }
  int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  return poll(fds.data(), fds.size(), ms) > 0;
}

absl::StatusOr<PeerId> WaitForRoute(Transport& t, const RoutingTable& table,
                                    const IpAddress& destination, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  FrameBatch ignored(1, kMaxFrameSize);
  while (true) {
    if (std::optional<Route> r = table.Lookup(destination)) return r->peer;
    if (absl::Now() > deadline) break;
    ignored.Clear();
    absl::StatusOr<Transport::Received> got = t.Receive(ignored);  // discovery happens here
    if (!got.ok()) return got.status();
    WaitForTransport(t, std::min(t.poll_interval(), absl::Milliseconds(10)), true);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the transport reported no peer for ", destination.ToString()));
}

std::vector<std::vector<uint8_t>> ReceiveFrames(Transport& t, size_t count, absl::Duration timeout,
                                                absl::Duration idle_timeout, size_t batch_capacity,
                                                std::vector<PeerId>* from) {
  std::vector<std::vector<uint8_t>> out;
  FrameBatch batch(batch_capacity, kMaxFrameSize);
  absl::Time deadline = absl::Now() + timeout;
  absl::Time last_frame = absl::Now();
  // At least one pass, so a zero timeout takes what is ready now.
  for (bool first = true; out.size() < count && (first || absl::Now() < deadline); first = false) {
    batch.Clear();
    absl::StatusOr<Transport::Received> got = t.Receive(batch);
    if (!got.ok()) {
      ADD_FAILURE() << "Receive failed: " << got.status();
      break;
    }
    for (FrameView f : batch.frames()) {
      out.emplace_back(f.begin(), f.end());
      if (from != nullptr) from->push_back(got->from);
    }
    if (got->frames > 0) {
      last_frame = absl::Now();
      continue;
    }
    if (absl::Now() - last_frame > idle_timeout) break;
    absl::Duration wait =
        std::min({t.poll_interval(), absl::Milliseconds(50), deadline - absl::Now()});
    if (wait > absl::ZeroDuration()) WaitForTransport(t, wait, /*readable_only=*/true);
  }
  return out;
}

void TransportConformanceTest::SetUp() {
  absl::StatusOr<TransportPair> pair = GetParam().make(setup_);
  ASSERT_TRUE(pair.ok()) << pair.status();
  pair_ = std::move(*pair);
  ASSERT_NE(pair_.a, nullptr);
  pair_.a->SetPeerObserver(&a_table_);
  if (pair_.b) pair_.b->SetPeerObserver(&b_table_);
  absl::StatusOr<PeerId> to_b =
      WaitForRoute(*pair_.a, a_table_, setup_.b_address.address, absl::Seconds(20));
  ASSERT_TRUE(to_b.ok()) << to_b.status();
  to_b_ = *to_b;
}

void TransportConformanceTest::SendAll(absl::Span<const FrameView> frames) {
  absl::Time last_progress = absl::Now();
  while (!frames.empty()) {
    absl::StatusOr<size_t> n = pair_.sender().Send(to_b_, frames);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_LE(*n, frames.size());
    frames.remove_prefix(*n);
    if (*n > 0) last_progress = absl::Now();
    if (frames.empty()) break;
    ASSERT_LT(absl::Now() - last_progress, absl::Seconds(10)) << "Send took nothing for 10 s";
    WaitForTransport(pair_.sender(),
                     std::min(pair_.sender().poll_interval(), absl::Milliseconds(10)));
  }
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
  absl::StatusOr<Transport::Received> got = pair_.receiver().Receive(batch);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->frames, 0u);
  EXPECT_TRUE(batch.empty());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "Receive must not block";
  ASSERT_FALSE(pair_.receiver().wait_fds().empty());
  for (const WaitFd& w : pair_.receiver().wait_fds()) EXPECT_GE(w.fd, 0);
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
    SendAll(views);
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
  SendAll(Views(sent));
  for (const auto& f : sent) SendAll({FrameView(f)});
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

TEST_P(TransportConformanceTest, FramesUpToMtuPassLargerAreDroppedAndCounted) {
  ConformanceFrames make(setup_);
  std::vector<uint8_t> at_mtu = make.Make(1, setup_.mtu);
  std::vector<uint8_t> too_big = make.Make(2, setup_.mtu + 1);
  std::vector<uint8_t> after = make.Make(3, 200);
  SendAll({FrameView(at_mtu), FrameView(too_big), FrameView(after)});
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
  std::thread waiter([&] { woke = WaitForTransport(receiver, absl::Seconds(10), true); });
  absl::SleepFor(absl::Milliseconds(100));  // let the waiter block
  absl::Time closed_at = absl::Now();
  receiver.Close();
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(absl::Now() - closed_at, absl::Seconds(5));
  FrameBatch batch(4, kMaxFrameSize);
  EXPECT_EQ(receiver.Receive(batch).status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<uint8_t> f = ConformanceFrames(setup_).Make(1, 100);
  EXPECT_EQ(receiver.Send(to_b_, {FrameView(f)}).status().code(),
            absl::StatusCode::kFailedPrecondition);
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
  SendAll(Views(sent));
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
  size_t taken = 0;
  for (size_t i = 0; i < count; i += 32) {
    std::vector<FrameView> views(sent.begin() + i, sent.begin() + std::min(count, i + 32));
    // Offered once each: a transport may take fewer (backpressure).
    absl::StatusOr<size_t> n = pair_.sender().Send(to_b_, views);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_LE(*n, views.size());
    taken += *n;
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "Send must not wait for the receiver";
  std::vector<std::vector<uint8_t>> got =
      ReceiveFrames(pair_.receiver(), count, kDeliveryTimeout, absl::Seconds(2));
  uint64_t drops = pair_.sender().counters().total_drops();
  if (pair_.b) drops += pair_.receiver().counters().total_drops();
  EXPECT_TRUE(drops > 0 || taken < count)
      << "a bounded transport must drop or refuse when nobody reads";
  EXPECT_LT(got.size(), count);
  EXPECT_EQ(got.size() + drops, taken)
      << "every frame taken is either delivered or counted as dropped";
  // What arrived is in order.
  int64_t last = -1;
  for (const auto& f : got) {
    int64_t tag = PacketBuilder::TagOf(f);
    ASSERT_GT(tag, last);
    last = tag;
  }
}

TEST_P(TransportConformanceTest, FramesComeFromAPeerTheReceiverReported) {
  ConformanceFrames make(setup_);
  std::vector<std::vector<uint8_t>> sent = {make.Make(1, 100), make.Make(2, 300)};
  SendAll(Views(sent));
  std::vector<PeerId> from;
  std::vector<std::vector<uint8_t>> got = ReceiveFrames(
      pair_.receiver(), sent.size(), kDeliveryTimeout, absl::InfiniteDuration(), 64, &from);
  ASSERT_EQ(got.size(), sent.size());
  const RoutingTable& table = pair_.b ? b_table_ : a_table_;
  for (const PeerId& id : from) {
    EXPECT_FALSE(id.empty());
    EXPECT_TRUE(table.Find(id).has_value())
        << "Receive named peer '" << id << "', which the transport never reported";
  }
}

}  // namespace fstun::testing
