#include "seal/sealed_transport.h"

#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "core/event_fd.h"
#include "core/registry.h"
#include "core/routing_table.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "seal/layer.h"
#include "testing/packet_builder.h"
#include "testing/transport_conformance.h"
#include "transports/loopback/loopback_transport.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using ::fstun::testing::ConformanceParam;
using ::fstun::testing::ConformanceSetup;
using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;
using ::fstun::testing::ReceiveFrames;
using ::fstun::testing::TransportConformanceTest;
using ::fstun::testing::TransportPair;
using ::fstun::testing::WaitForTransport;

// Both ends share one key, as peers configured with the same --key_file do.
std::string SharedKeyText() {
  static const std::string text = Key::Generate().ToBase64();
  return text;
}
Key SharedKey() { return *Key::FromBase64(SharedKeyText()); }

std::unique_ptr<Transport> Seal(std::unique_ptr<Transport> inner, size_t mtu, uint32_t sender,
                                Key key = SharedKey()) {
  absl::StatusOr<std::unique_ptr<SealedTransport>> t =
      SealedTransport::Create(std::move(inner), std::move(key), {mtu, sender, 0});
  CHECK(t.ok()) << t.status();
  return *std::move(t);
}

absl::StatusOr<TransportPair> MakeSealedMemoryPair(const ConformanceSetup& setup) {
  MemoryTransportOptions options;
  options.mtu = setup.mtu + kSealOverhead;
  options.queue_bytes = setup.queue_bytes;
  auto [a, b] = MemoryTransport::CreatePair(options);
  return TransportPair{Seal(std::move(a), setup.mtu, 1), Seal(std::move(b), setup.mtu, 2), nullptr};
}

absl::StatusOr<TransportPair> MakeSealedLoopback(const ConformanceSetup& setup) {
  LoopbackTransportOptions options;
  options.mtu = setup.mtu + kSealOverhead;
  options.queue_bytes = setup.queue_bytes;
  return TransportPair{Seal(std::make_unique<LoopbackTransport>(options), setup.mtu, 1), nullptr,
                       nullptr};
}

// The same, built the way the command builds it: by name through the
// registry with a key (seal/layer.h).
absl::StatusOr<TransportPair> MakeSealedMemoryFromRegistry(const ConformanceSetup& setup) {
  TransportConfig config;
  config.mtu = setup.mtu;
  config.options["link"] = "sealed_conformance";
  // The registry's memory transport is bounded by frames, not bytes.
  config.options["queue_frames"] = std::to_string(setup.queue_bytes / 1024);
  config.addresses = {setup.a_address};
  auto a = CreateTransport(TransportRegistry::Global(), "memory", config, SharedKey());
  if (!a.ok()) return a.status();
  config.addresses = {setup.b_address};
  auto b = CreateTransport(TransportRegistry::Global(), "memory", config, SharedKey());
  if (!b.ok()) return b.status();
  return TransportPair{*std::move(a), *std::move(b), nullptr};
}

INSTANTIATE_TEST_SUITE_P(Sealed, TransportConformanceTest,
                         ::testing::Values(ConformanceParam{"sealed_memory", MakeSealedMemoryPair},
                                           ConformanceParam{"sealed_loopback", MakeSealedLoopback},
                                           ConformanceParam{"sealed_memory_by_name",
                                                            MakeSealedMemoryFromRegistry}),
                         ::fstun::testing::ConformanceParamName);

// Counts glog lines that contain a phrase.
class LogCounter : public google::LogSink {
 public:
  explicit LogCounter(std::string phrase) : phrase_(std::move(phrase)) { google::AddLogSink(this); }
  ~LogCounter() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity, const char*, const char*, int, const struct ::tm*,
            const char* message, size_t len) override {
    if (absl::StrContains(absl::string_view(message, len), phrase_)) {
      absl::MutexLock lock(&mu_);
      ++count_;
    }
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }

 private:
  const std::string phrase_;
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

std::vector<uint8_t> Packet(uint32_t tag, size_t size = 200) {
  return PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), tag, size);
}

std::vector<FrameView> Views(const std::vector<std::vector<uint8_t>>& frames) {
  return std::vector<FrameView>(frames.begin(), frames.end());
}

// A sealed receiver whose inner transport an attacker (the test) writes
// raw frames into, as someone with write access to the shared folder can.
class AttackTest : public ::testing::Test {
 protected:
  AttackTest() {
    MemoryTransportOptions options;
    options.mtu = 1400 + kSealOverhead;
    auto [raw, inner] = MemoryTransport::CreatePair(options);
    wire_ = std::move(raw);
    receiver_ = Seal(std::move(inner), 1400, 1);
  }

  std::vector<uint8_t> SealWith(FrameSealer& sealer, const std::vector<uint8_t>& packet) {
    std::vector<uint8_t> out(packet.size() + kSealOverhead);
    CHECK_EQ(sealer.Seal(packet, absl::MakeSpan(out)), out.size());
    return out;
  }

  // Writes raw frames into the receiver's inner transport and returns what
  // the receiver delivers.
  std::vector<std::vector<uint8_t>> Inject(const std::vector<std::vector<uint8_t>>& raw) {
    CHECK(wire_->Send(MemoryTransport::kPeer, Views(raw)).ok());
    return ReceiveFrames(*receiver_, raw.size() + 1, absl::Seconds(5), absl::Milliseconds(200));
  }

  Key key_ = SharedKey();
  FrameSealer peer_{key_, 0xC0000202, NewSessionId()};  // a genuine peer
  std::unique_ptr<Transport> wire_;
  std::unique_ptr<Transport> receiver_;
};

TEST_F(AttackTest, ReplayedFramesAreDroppedAndCounted) {
  std::vector<std::vector<uint8_t>> genuine;
  for (uint32_t i = 0; i < 10; ++i) genuine.push_back(SealWith(peer_, Packet(i)));
  EXPECT_EQ(Inject(genuine).size(), 10u);
  EXPECT_TRUE(Inject(genuine).empty());
  EXPECT_TRUE(Inject({genuine[3], genuine[3]}).empty());
  EXPECT_EQ(receiver_->counters().drops_for("replay"), 12u);
  EXPECT_EQ(receiver_->counters().rx_frames, 10u);
}

TEST_F(AttackTest, ForgedTruncatedAndFlippedFramesAreDroppedAndTheTunnelKeepsWorking) {
  Key attacker_key = Key::Generate();
  FrameSealer attacker(attacker_key, 0xC0000202, peer_.session());
  std::vector<uint8_t> good = SealWith(peer_, Packet(1));
  std::vector<uint8_t> flipped = good;
  flipped[60] ^= 0x10;
  std::vector<uint8_t> truncated(good.begin(), good.end() - 1);
  std::vector<uint8_t> tiny(good.begin(), good.begin() + 10);
  std::vector<uint8_t> plain = Packet(2);  // unsealed packet: what trusted mode would inject
  LogCounter log("authentication failed, check --key_file");
  std::vector<std::vector<uint8_t>> attack = {SealWith(attacker, Packet(3)), flipped, truncated,
                                              tiny, plain};
  for (int i = 0; i < 50; ++i) attack.push_back(SealWith(attacker, Packet(100 + i)));
  EXPECT_TRUE(Inject(attack).empty());
  CounterSnapshot c = receiver_->counters();
  EXPECT_EQ(c.drops_for("auth_failed"), 53u);
  EXPECT_EQ(c.drops_for("malformed"), 2u);
  EXPECT_EQ(c.rx_frames, 0u);
  EXPECT_EQ(log.count(), 1) << "one warning, not a flood";
  // The genuine frame, though it came after its flipped copy, still passes.
  std::vector<std::vector<uint8_t>> got = Inject({good});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Packet(1));
}

TEST_F(AttackTest, OldSessionAndFarReorderAreDropped) {
  FrameSealer previous_run(key_, 0xC0000202, peer_.session() - 1);
  std::vector<uint8_t> old_frame = SealWith(previous_run, Packet(1));
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < ReplayWindow::kWindowSize + 2; ++i) {
    frames.push_back(SealWith(peer_, Packet(i, 60)));
  }
  EXPECT_EQ(Inject({frames.back()}).size(), 1u);
  EXPECT_TRUE(Inject({old_frame, frames[0]}).empty());
  CounterSnapshot c = receiver_->counters();
  EXPECT_EQ(c.drops_for("wrong_session"), 1u);
  EXPECT_EQ(c.drops_for("too_old"), 1u);
}

// Lends a transport to a SealedTransport without giving it away, so a test
// can "restart" the sealing end on the same link.
class Borrowed : public Transport {
 public:
  explicit Borrowed(Transport& t) : t_(t) {}
  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> f) override {
    return t_.Send(to, f);
  }
  absl::StatusOr<Received> Receive(FrameBatch& b) override { return t_.Receive(b); }
  void SetPeerObserver(PeerObserver* o) override { t_.SetPeerObserver(o); }
  absl::InlinedVector<WaitFd, 2> wait_fds() const override { return t_.wait_fds(); }
  SyscallNeeds syscalls() const override { return t_.syscalls(); }
  size_t mtu() const override { return t_.mtu(); }
  CounterSnapshot counters() const override { return t_.counters(); }
  void Close() override {}

 private:
  Transport& t_;
};

TEST(SealedTransportTest, AfterAReceiverRestartRecordedFramesAreRefusedAndLivePeersRecover) {
  MemoryTransportOptions options;
  options.mtu = 1400 + kSealOverhead;
  auto [a_inner, b_link] = MemoryTransport::CreatePair(options);
  std::unique_ptr<Transport> a = Seal(std::move(a_inner), 1400, 1);
  std::unique_ptr<Transport> b = Seal(std::make_unique<Borrowed>(*b_link), 1400, 2);
  // Both directions once, so each end learns the other's session.
  std::vector<uint8_t> p1 = Packet(1), p2 = Packet(2);
  constexpr char kPeer[] = "memory-peer";
  ASSERT_TRUE(b->Send(kPeer, {FrameView(p2)}).ok());
  ASSERT_EQ(ReceiveFrames(*a, 1, absl::Seconds(5)).size(), 1u);
  ASSERT_TRUE(a->Send(kPeer, {FrameView(p1)}).ok());
  // The attacker records what a sends to b's first run.
  FrameBatch recorded(8, kMaxFrameSize);
  ASSERT_TRUE(testing::WaitForTransport(*b_link, absl::Seconds(5), true));
  ASSERT_EQ(b_link->Receive(recorded)->frames, 2u);  // a's first Send: its hello, then the frame
  std::vector<uint8_t> recorded_frame(recorded[1].begin(), recorded[1].end());

  // b restarts: a new session on the same link.
  b.reset();
  absl::SleepFor(absl::Milliseconds(2));
  b = Seal(std::make_unique<Borrowed>(*b_link), 1400, 2);
  // Replaying the recorded frame to the new run (as if written into the
  // folder by someone else; here sent raw on a's side of the link).
  FrameView replay(recorded_frame);
  auto* a_sealed = dynamic_cast<SealedTransport*>(a.get());
  ASSERT_NE(a_sealed, nullptr);
  ASSERT_TRUE(const_cast<Transport&>(a_sealed->inner()).Send(kPeer, {replay}).ok());
  EXPECT_TRUE(ReceiveFrames(*b, 1, absl::Seconds(1), absl::Milliseconds(300)).empty());
  EXPECT_EQ(b->counters().drops_for("wrong_session"), 1u) << b->counters().ToString();

  // a still echoes b's old run, so its next frame is refused too; b answers
  // with a hello, a learns the new run, and from then on frames pass.
  std::vector<std::vector<uint8_t>> got;
  for (uint32_t i = 10; i < 60 && got.empty(); ++i) {
    std::vector<uint8_t> p = Packet(i);
    ASSERT_TRUE(a->Send(kPeer, {FrameView(p)}).ok());
    got = ReceiveFrames(*b, 1, absl::Milliseconds(150));
    ReceiveFrames(*a, 1, absl::Milliseconds(10));  // the pump would: a takes the hello
  }
  ASSERT_EQ(got.size(), 1u) << b->counters().ToString();
  EXPECT_LE(b->counters().drops_for("wrong_session"), 4u);
  EXPECT_EQ(b->counters().rx_frames, 1u);
}

TEST(SealedTransportTest, PeersWithDifferentKeysPassNothingAndSayWhy) {
  LogCounter log("authentication failed, check --key_file");
  MemoryTransportOptions options;
  options.mtu = 1400 + kSealOverhead;
  auto [a_inner, b_inner] = MemoryTransport::CreatePair(options);
  std::unique_ptr<Transport> a = Seal(std::move(a_inner), 1400, 1, Key::Generate());
  std::unique_ptr<Transport> b = Seal(std::move(b_inner), 1400, 2, Key::Generate());
  std::vector<std::vector<uint8_t>> packets;
  for (uint32_t i = 0; i < 100; ++i) packets.push_back(Packet(i));
  ASSERT_TRUE(a->Send(MemoryTransport::kPeer, Views(packets)).ok());
  ASSERT_TRUE(b->Send(MemoryTransport::kPeer, Views(packets)).ok());
  EXPECT_TRUE(ReceiveFrames(*b, 100, absl::Seconds(2), absl::Milliseconds(200)).empty());
  EXPECT_TRUE(ReceiveFrames(*a, 100, absl::Seconds(2), absl::Milliseconds(200)).empty());
  // The 100 frames and the other side's hello.
  EXPECT_EQ(a->counters().drops_for("auth_failed"), 101u);
  EXPECT_EQ(b->counters().drops_for("auth_failed"), 101u);
  EXPECT_EQ(a->counters().rx_frames + b->counters().rx_frames, 0u);
  EXPECT_EQ(log.count(), 2) << "each side logs the mismatch once";
}

TEST(SealedTransportTest, InnerTransportMustCarryTheOverhead) {
  MemoryTransportOptions options;
  options.mtu = 1400 + kSealOverhead - 1;
  auto [a, b] = MemoryTransport::CreatePair(options);
  auto t = SealedTransport::Create(std::move(a), SharedKey(), {1400, 1, 0});
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), std::to_string(1400 + kSealOverhead)))
      << t.status();
}

// Records which peer each frame was sent to; reports two peers.
class PerPeerRecorder : public Transport {
 public:
  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override {
    for (FrameView f : frames) sent.push_back({to, f[0]});
    return frames.size();
  }
  absl::StatusOr<Received> Receive(FrameBatch&) override { return Received{}; }
  void SetPeerObserver(PeerObserver* observer) override {
    for (const char* id : {"c1", "c2"}) {
      PeerInfo p;
      p.id = id;
      p.mtu = 1500 + kSealOverhead;
      observer->PeerUp(p);
    }
  }
  absl::InlinedVector<WaitFd, 2> wait_fds() const override { return {{ready_.fd(), POLLIN}}; }
  size_t mtu() const override { return 1500 + kSealOverhead; }
  SyscallNeeds syscalls() const override { return {}; }
  CounterSnapshot counters() const override { return {}; }
  void Close() override {}
  std::vector<std::pair<PeerId, uint8_t>> sent;  // peer, first byte (frame type)

 private:
  EventFd ready_;
};

TEST(SealedTransportTest, SealsPerPeerEachPeerGetsItsOwnHelloAndPlaintextMtu) {
  // Data frames carry the type of the cipher this end seals with.
  for (auto [cipher, data] : {std::pair{aead::Cipher::kChaCha20Poly1305, kSealMarker},
                              std::pair{aead::Cipher::kAes256Gcm, kSealAesMarker}}) {
    auto inner = std::make_unique<PerPeerRecorder>();
    PerPeerRecorder* recorder = inner.get();
    auto t = SealedTransport::Create(std::move(inner), SharedKey(), {1500, 1, 0, cipher});
    ASSERT_TRUE(t.ok()) << t.status();
    RoutingTable table;
    (*t)->SetPeerObserver(&table);
    ASSERT_TRUE(table.Find("c1").has_value());
    EXPECT_EQ(table.Find("c1")->mtu, 1500u) << "peers are reported with the plaintext MTU";
    std::vector<uint8_t> p = Packet(1);
    ASSERT_EQ(*(*t)->Send("c1", {FrameView(p)}), 1u);
    ASSERT_EQ(*(*t)->Send("c2", {FrameView(p), FrameView(p)}), 2u);
    ASSERT_EQ(*(*t)->Send("c1", {FrameView(p)}), 1u);
    std::vector<std::pair<PeerId, uint8_t>> want = {{"c1", kSealHelloMarker},
                                                    {"c1", data},
                                                    {"c2", kSealHelloMarker},
                                                    {"c2", data},
                                                    {"c2", data},
                                                    {"c1", data}};
    EXPECT_EQ(recorder->sent, want) << aead::CipherName(cipher);
  }
}

TEST(SealedTransportTest, WithoutAKeyTheRegistryTransportIsReturnedUnsealed) {
  TransportConfig config;
  config.mtu = 1400;
  auto t = CreateTransport(TransportRegistry::Global(), "loopback", config, std::nullopt);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(dynamic_cast<SealedTransport*>(t->get()), nullptr);
  auto sealed = CreateTransport(TransportRegistry::Global(), "loopback", config, SharedKey());
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  auto* s = dynamic_cast<SealedTransport*>(sealed->get());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->mtu(), 1400u);
  EXPECT_EQ(s->inner().mtu(), 1400u + kSealOverhead);
  EXPECT_FALSE(CreateTransport(TransportRegistry::Global(), "nope", config, SharedKey()).ok());
}

TEST(SealedTransportTest, KeyFromFlagsLoadsTheFileOrExplains) {
  FLAGS_key_file = "";
  absl::StatusOr<std::optional<Key>> none = KeyFromFlags();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  FLAGS_key_file = "/nonexistent/fstun.key";
  absl::StatusOr<std::optional<Key>> missing = KeyFromFlags();
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "/nonexistent/fstun.key"));
  FLAGS_key_file = "";
}

}  // namespace
}  // namespace fstun

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  google::InitGoogleLogging(argv[0]);
  return RUN_ALL_TESTS();
}
