// IdentityTransport: the transport conformance suite around it (over the
// memory transport, with and without the preshared key), and what a user
// of per-peer keys notices: the routing table sees public keys with their
// prefixes, a spoofed inner source or an unlisted key gets nothing
// through (and is counted), status shows the handshake.
#include "identity/identity_transport.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "core/routing_table.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/messages.h"
#include "testing/packet_builder.h"
#include "testing/transport_conformance.h"
#include "transports/memory/memory_transport.h"
#include "vnet/header.h"

namespace fstun {
namespace {

using ::fstun::testing::ConformanceParam;
using ::fstun::testing::ConformanceSetup;
using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;
using ::fstun::testing::ReceiveFrames;
using ::fstun::testing::TransportConformanceTest;
using ::fstun::testing::TransportPair;

IpPrefix P(const char* text) { return *IpPrefix::Parse(text); }

// One end: its key pair and the transport.
struct End {
  std::string public_key;
  std::unique_ptr<IdentityTransport> transport;
};

// Two ends over a memory pair; `a_allowed` is what b accepts from a, and
// `b_allowed` what a accepts from b. `a_key` (optional): a's private key.
std::pair<End, End> MakeEnds(size_t mtu, size_t queue_bytes, std::vector<IpPrefix> a_allowed,
                             std::vector<IpPrefix> b_allowed, std::vector<uint8_t> psk,
                             bool b_knows_a = true, bool gso = false) {
  MemoryTransportOptions options;
  options.mtu = mtu + kDataOverhead;
  options.queue_bytes = queue_bytes;
  options.carry_gso_frames = gso;
  auto [ta, tb] = MemoryTransport::CreatePair(options);
  PrivateKey ka = PrivateKey::Generate(), kb = PrivateKey::Generate();
  PublicKey pa = ka.public_key(), pb = kb.public_key();
  PrivateKey stranger = PrivateKey::Generate();
  auto ca = PeerCrypto::Create(std::move(ka), psk, {.peers = {{pb, b_allowed}}});
  CHECK(ca.ok()) << ca.status();
  auto cb = PeerCrypto::Create(std::move(kb), psk,
                               {.peers = {{b_knows_a ? pa : stranger.public_key(), a_allowed}}});
  CHECK(cb.ok()) << cb.status();
  auto a = IdentityTransport::Create(std::move(ta), *std::move(ca), {.mtu = mtu});
  CHECK(a.ok()) << a.status();
  auto b = IdentityTransport::Create(std::move(tb), *std::move(cb), {.mtu = mtu});
  CHECK(b.ok()) << b.status();
  return {End{pa.ToBase64(), *std::move(a)}, End{pb.ToBase64(), *std::move(b)}};
}

// Runs the handshake: one frame a->b, both ends receiving until it arrived.
// With `vnet`, the frame is sent as the core sends to a peer that takes
// super-packets (behind a virtio-net header).
bool Handshake(Transport& a, const std::string& to_b, Transport& b, const IpAddress& src,
               const IpAddress& dst, bool vnet = false) {
  std::vector<uint8_t> f = PacketBuilder::TaggedUdp(src, dst, 999999, 100);
  if (vnet) f = WithEmptyVnetHeader(f);
  if (!a.Send(to_b, {FrameView(f)}).ok()) return false;
  FrameBatch batch(8, kMaxFrameSize);
  for (absl::Time end = absl::Now() + absl::Seconds(5); absl::Now() < end;) {
    batch.Clear();
    absl::StatusOr<Transport::Received> got = b.Receive(batch);
    if (!got.ok()) return false;
    if (got->frames > 0) return true;
    batch.Clear();
    if (!a.Receive(batch).ok()) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

absl::StatusOr<TransportPair> MakeIdentityPair(const ConformanceSetup& setup,
                                               std::vector<uint8_t> psk) {
  auto [a, b] =
      MakeEnds(setup.mtu, setup.queue_bytes, {setup.a_address}, {setup.b_address}, std::move(psk));
  // The suite's sender never receives; the handshake runs here first.
  if (!Handshake(*a.transport, b.public_key, *b.transport, setup.a_address.address,
                 setup.b_address.address)) {
    return absl::InternalError("handshake did not complete");
  }
  return TransportPair{std::move(a.transport), std::move(b.transport), nullptr};
}

INSTANTIATE_TEST_SUITE_P(Identity, TransportConformanceTest,
                         ::testing::Values(ConformanceParam{"identity_memory",
                                                            [](const ConformanceSetup& s) {
                                                              return MakeIdentityPair(s, {});
                                                            }},
                                           ConformanceParam{"identity_memory_psk",
                                                            [](const ConformanceSetup& s) {
                                                              return MakeIdentityPair(
                                                                  s, std::vector<uint8_t>(32, 7));
                                                            }}),
                         ::fstun::testing::ConformanceParamName);

TEST(IdentityTransportTest, ReportsConfiguredKeysWithTheirPrefixes) {
  auto [a, b] = MakeEnds(1400, 1 << 20, {P("192.0.2.2/32")}, {P("0.0.0.0/0")}, {});
  RoutingTable table;
  b.transport->SetPeerObserver(&table);
  // As the daemon does for each --peer: route and check sources by these.
  table.ConfigurePeer(a.public_key, {P("192.0.2.2/32")});
  std::vector<RoutingTable::Entry> entries = table.Snapshot();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].info.id, a.public_key);
  EXPECT_EQ(entries[0].info.prefixes, std::vector<IpPrefix>{P("192.0.2.2/32")});
  EXPECT_EQ(table.Lookup(Ip("192.0.2.2"))->peer, a.public_key);
  EXPECT_FALSE(table.Lookup(Ip("192.0.2.3")).has_value());
  EXPECT_FALSE(table.CheckSource(a.public_key, Ip("192.0.2.3")));
  EXPECT_EQ(b.transport->mtu(), 1400u);
}

// The layer asks the pump for no wake-up of its own while nothing is
// pending, and for one at its next timer when something is (here the retry
// of an unanswered initiation, 5 s on), not at a fixed rate.
TEST(IdentityTransportTest, IdleAsksForNoWakeUpEarlierThanItsNextTimer) {
  auto [a, b] = MakeEnds(1400, 1 << 20, {P("192.0.2.2/32")}, {P("0.0.0.0/0")}, {});
  RoutingTable ta, tb;
  a.transport->SetPeerObserver(&ta);
  b.transport->SetPeerObserver(&tb);
  // Over the memory transport, which needs no polling: nothing at all.
  EXPECT_EQ(a.transport->poll_interval(), absl::InfiniteDuration());
  EXPECT_EQ(b.transport->poll_interval(), absl::InfiniteDuration());
  // A frame starts a handshake that b does not answer yet.
  std::vector<uint8_t> f = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 100);
  ASSERT_TRUE(a.transport->Send(b.public_key, {FrameView(f)}).ok());
  absl::Duration wait = a.transport->poll_interval();
  EXPECT_GT(wait, absl::Seconds(4));
  EXPECT_LE(wait, absl::Seconds(5));
  EXPECT_EQ(b.transport->poll_interval(), absl::InfiniteDuration());
}

TEST(IdentityTransportTest, StatusShowsKeyPrefixesAndHandshake) {
  auto [a, b] = MakeEnds(1400, 1 << 20, {P("192.0.2.2/32")}, {P("0.0.0.0/0")}, {});
  std::vector<PeerStatus> before = b.transport->peers();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].id, a.public_key);
  EXPECT_EQ(before[0].addresses, std::vector<std::string>{"192.0.2.2/32"});
  EXPECT_EQ(before[0].Detail("latest_handshake"), "never");
  ASSERT_TRUE(
      Handshake(*a.transport, b.public_key, *b.transport, Ip("192.0.2.2"), Ip("192.0.2.1")));
  std::vector<PeerStatus> after = b.transport->peers();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_THAT(after[0].Detail("latest_handshake"), ::testing::EndsWith("ago"));
  EXPECT_EQ(after[0].Detail("public_key"), a.public_key);
  EXPECT_EQ(after[0].Detail("endpoint"), MemoryTransport::kPeer);
  EXPECT_EQ(after[0].counters.rx_frames, 1u);
}

TEST(IdentityTransportTest, SpoofedSourceIsDroppedAndCounted) {
  auto [a, b] = MakeEnds(1400, 1 << 20, {P("192.0.2.2/32")}, {P("0.0.0.0/0")}, {});
  ASSERT_TRUE(
      Handshake(*a.transport, b.public_key, *b.transport, Ip("192.0.2.2"), Ip("192.0.2.1")));
  // a sends as 192.0.2.3 (another client's address): b must not deliver it.
  std::vector<uint8_t> spoofed = PacketBuilder::TaggedUdp(Ip("192.0.2.3"), Ip("192.0.2.1"), 1, 200);
  std::vector<uint8_t> genuine = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 2, 200);
  ASSERT_TRUE(a.transport->Send(b.public_key, {FrameView(spoofed), FrameView(genuine)}).ok());
  std::vector<PeerId> from;
  std::vector<std::vector<uint8_t>> got =
      ReceiveFrames(*b.transport, 2, absl::Seconds(2), absl::Milliseconds(300), 64, &from);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], genuine);
  EXPECT_EQ(from[0], a.public_key);
  EXPECT_EQ(b.transport->counters().drops_for("source_not_allowed"), 1u);
}

TEST(IdentityTransportTest, UnlistedKeyGetsNothingThroughAndIsCounted) {
  auto [a, b] = MakeEnds(1400, 1 << 20, {P("192.0.2.2/32")}, {P("0.0.0.0/0")}, {},
                         /*b_knows_a=*/false);
  EXPECT_FALSE(
      Handshake(*a.transport, b.public_key, *b.transport, Ip("192.0.2.2"), Ip("192.0.2.1")));
  EXPECT_GE(b.transport->counters().drops_for("unknown_peer"), 1u);
  EXPECT_EQ(b.transport->counters().rx_frames, 0u);
}

TEST(IdentityTransportTest, SuperPacketsPassWhenTheInnerPeerTakesThem) {
  auto [a, b] = MakeEnds(1400, 1 << 20, {P("192.0.2.2/32")}, {P("0.0.0.0/0")}, {},
                         /*b_knows_a=*/true, /*gso=*/true);
  EXPECT_TRUE(a.transport->capabilities().carries_gso_frames);
  RoutingTable a_table, b_table;
  a.transport->SetPeerObserver(&a_table);
  b.transport->SetPeerObserver(&b_table);
  // The memory peer announces offloads, and it is each key's only inner peer.
  ASSERT_TRUE(a_table.Find(b.public_key).has_value());
  EXPECT_TRUE(a_table.Find(b.public_key)->takes_vnet);
  EXPECT_TRUE(b_table.Find(a.public_key)->takes_vnet);
  ASSERT_TRUE(Handshake(*a.transport, b.public_key, *b.transport, Ip("192.0.2.2"), Ip("192.0.2.1"),
                        /*vnet=*/true));
  // A 30000-byte TCP super-packet (vnet header + packet) arrives as it was sent.
  std::vector<uint8_t> packet =
      PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 7, 30000);
  std::vector<uint8_t> frame = WithEmptyVnetHeader(packet);
  ASSERT_TRUE(a.transport->Send(b.public_key, {FrameView(frame)}).ok());
  std::vector<std::vector<uint8_t>> got =
      ReceiveFrames(*b.transport, 1, absl::Seconds(2), absl::Milliseconds(500));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], frame);
  EXPECT_EQ(b.transport->counters().total_drops(), 0u);
}

TEST(IdentityTransportTest, InnerTransportMustCarrySealedFrames) {
  auto [ta, tb] = MemoryTransport::CreatePair({.mtu = 1400});
  auto crypto = PeerCrypto::Create(PrivateKey::Generate(), {},
                                   {.peers = {{PrivateKey::Generate().public_key(), {}}}});
  ASSERT_TRUE(crypto.ok()) << crypto.status();
  auto t = IdentityTransport::Create(std::move(ta), *std::move(crypto), {.mtu = 1400});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fstun
