// IdentityLayer over a fake multi-peer link (a hub that carries byte strings
// between named endpoints, as the fs transport does between peer ids): one
// server and eight clients with per-peer keys, with and without a preshared
// key on top. The hub lets a test tap every message and inject messages
// under any sender name.
#include "identity/identity_layer.h"

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/messages.h"
#include "testing/packet_builder.h"
#include "vnet/header.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

struct HubMessage {
  std::string from;
  std::vector<uint8_t> bytes;
};

class Hub {
 public:
  class Endpoint : public PeerLink {
   public:
    Endpoint(Hub* hub, std::string id) : hub_(hub), id_(std::move(id)) {}
    absl::StatusOr<size_t> Send(const std::string& to,
                                absl::Span<const FrameView> frames) override {
      for (FrameView f : frames) hub_->Carry(id_, to, std::vector<uint8_t>(f.begin(), f.end()));
      return frames.size();
    }
    absl::StatusOr<Received> Receive(FrameBatch& batch) override {
      std::deque<HubMessage>& q = hub_->queues_[id_];
      Received r;
      while (!q.empty() && !batch.full() && (r.frames == 0 || q.front().from == r.from)) {
        r.from = q.front().from;
        EXPECT_TRUE(batch.Append(q.front().bytes));
        q.pop_front();
        ++r.frames;
      }
      return r;
    }
    std::vector<LinkPeer> peers() const override { return hub_->PeersOf(id_); }

   private:
    Hub* hub_;
    std::string id_;
  };

  Endpoint* Add(const std::string& id, std::vector<IpPrefix> announced) {
    announced_[id] = std::move(announced);
    endpoints_.push_back(std::make_unique<Endpoint>(this, id));
    return endpoints_.back().get();
  }
  // Clients see only the server (as an fs client routes to its server).
  std::vector<LinkPeer> PeersOf(const std::string& id) const {
    std::vector<LinkPeer> out;
    for (const auto& [other, prefixes] : announced_) {
      if (other == id) continue;
      if (id != "server" && other != "server") continue;
      out.push_back({other, prefixes});
    }
    return out;
  }
  void Carry(std::string from, const std::string& to, std::vector<uint8_t> bytes) {
    if (auto it = spoof_from.find(from); it != spoof_from.end()) from = it->second;
    tap.push_back({from, to, bytes});
    queues_[to].push_back({from, std::move(bytes)});
  }
  // Messages sent by endpoint `first` arrive named `second`.
  std::map<std::string, std::string> spoof_from;
  void Inject(const std::string& to, const std::string& claimed_from, std::vector<uint8_t> bytes) {
    queues_[to].push_back({claimed_from, std::move(bytes)});
  }
  bool quiet() const {
    for (const auto& [id, q] : queues_)
      if (!q.empty()) return false;
    return true;
  }

  struct Tapped {
    std::string from, to;
    std::vector<uint8_t> bytes;
  };
  std::vector<Tapped> tap;

 private:
  std::map<std::string, std::vector<IpPrefix>> announced_;
  std::map<std::string, std::deque<HubMessage>> queues_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

std::string Name(int i) { return i == 0 ? "server" : "c" + std::to_string(i); }
IpAddress Addr(int i) { return Ip("192.0.2." + std::to_string(i + 1)); }

struct Received {
  std::string from;  // public key
  int64_t tag;
};

class World {
 public:
  World(int clients, bool psk) {
    std::vector<uint8_t> key = psk ? std::vector<uint8_t>(32, 0x33) : std::vector<uint8_t>{};
    for (int i = 0; i <= clients; ++i) keys.push_back(PrivateKey::Generate());
    for (int i = 0; i <= clients; ++i) {
      links.push_back(hub.Add(Name(i), {IpPrefix{Addr(i), 32}}));
      PeerCryptoOptions o;
      if (i == 0) {
        for (int c = 1; c <= clients; ++c)
          o.peers.push_back({keys[c].public_key(), {IpPrefix{Addr(c), 32}}});
      } else {
        o.peers.push_back({keys[0].public_key(), {*IpPrefix::Parse("192.0.2.0/24")}});
      }
      auto pc = PeerCrypto::Create(PrivateKey::FromBytes(keys[i].bytes()), key, std::move(o));
      EXPECT_TRUE(pc.ok()) << pc.status();
      layers.push_back(
          std::make_unique<IdentityLayer>(std::move(*pc), links.back(), [this] { return now; }));
    }
  }

  std::string Pub(int i) { return keys[i].public_key().ToBase64(); }

  void Send(int from, int to, uint32_t tag, std::optional<IpAddress> src = std::nullopt) {
    std::vector<uint8_t> p = PacketBuilder::TaggedUdp(src ? *src : Addr(from), Addr(to), tag, 200);
    FrameView v(p);
    ASSERT_TRUE(layers[from]->Send(Pub(from == 0 ? to : 0), absl::MakeConstSpan(&v, 1)).ok());
  }

  void Run() {
    FrameBatch batch(8, 2048);
    for (int round = 0; round < 200; ++round) {
      bool any = false;
      for (size_t i = 0; i < layers.size(); ++i) {
        batch.Clear();
        absl::StatusOr<PeerLink::Received> r = layers[i]->Receive(batch);
        ASSERT_TRUE(r.ok());
        for (FrameView f : batch.frames()) got[i].push_back({r->from, PacketBuilder::TagOf(f)});
        any = any || r->frames > 0;
      }
      if (!any && hub.quiet()) return;
    }
  }

  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  Hub hub;
  std::vector<PrivateKey> keys;
  std::vector<Hub::Endpoint*> links;
  std::vector<std::unique_ptr<IdentityLayer>> layers;
  std::map<int, std::vector<Received>> got;
};

class IdentityLayerTest : public ::testing::TestWithParam<bool> {};

TEST_P(IdentityLayerTest, ServerAndEightClientsLoseNothingAndAreIsolated) {
  constexpr int kClients = 8, kFrames = 30;
  World w(kClients, GetParam());
  for (int f = 0; f < kFrames; ++f) {
    for (int c = 1; c <= kClients; ++c) {
      w.Send(c, 0, c * 1000 + f);
      w.Send(0, c, 100000 + c * 1000 + f);
    }
    w.Run();
  }
  std::map<std::string, std::vector<int64_t>> at_server;
  for (const Received& r : w.got[0]) at_server[r.from].push_back(r.tag);
  for (int c = 1; c <= kClients; ++c) {
    std::vector<int64_t> up, down;
    for (int f = 0; f < kFrames; ++f) {
      up.push_back(c * 1000 + f);
      down.push_back(100000 + c * 1000 + f);
    }
    EXPECT_EQ(at_server[w.Pub(c)], up) << "from client " << c;
    std::vector<int64_t> at_client;
    for (const Received& r : w.got[c]) {
      EXPECT_EQ(r.from, w.Pub(0));
      at_client.push_back(r.tag);
    }
    EXPECT_EQ(at_client, down) << "to client " << c;
    EXPECT_EQ(w.layers[c]->counters().total_drops(), 0u) << w.layers[c]->counters().ToString();
  }
  EXPECT_EQ(w.layers[0]->counters().total_drops(), 0u) << w.layers[0]->counters().ToString();
  for (const auto& info : w.layers[0]->Status()) {
    EXPECT_EQ(info.last_handshake, w.now);
    EXPECT_EQ(info.counters.rx_frames, size_t{kFrames});
  }

  // Eavesdropping: every message the hub carried to client 1 or to the
  // server, given to client 2: nothing opens.
  std::vector<Hub::Tapped> tapped = w.hub.tap;
  w.got.clear();
  for (const Hub::Tapped& t : tapped) {
    if (t.to == "c2" || t.from == "c2") continue;
    w.hub.Inject("c2", "server", t.bytes);
  }
  w.Run();
  EXPECT_TRUE(w.got[2].empty());
  EXPECT_GT(w.layers[2]->counters().total_drops(), size_t{kFrames});

  // Spoofed sender: client 2's messages arrive under client 1's link name.
  // They are attributed to client 2 (its key), and client 1's source
  // address inside is refused.
  w.got.clear();
  w.hub.spoof_from["c2"] = "c1";
  w.Send(2, 0, 4242, Addr(1));
  w.Send(2, 0, 4243);
  w.hub.spoof_from.clear();
  w.Run();
  ASSERT_EQ(w.got[0].size(), 1u);
  EXPECT_EQ(w.got[0][0].tag, 4243);
  EXPECT_EQ(w.got[0][0].from, w.Pub(2));
  EXPECT_EQ(w.layers[0]->counters().drops_for("source_not_allowed"), 1u);

  // Client 2 poses as the server to client 1: client 1 accepts only the
  // server's key.
  PeerCryptoOptions o;
  o.peers.push_back({w.keys[1].public_key(), {IpPrefix{Addr(1), 32}}});
  auto rogue = *PeerCrypto::Create(
      PrivateKey::FromBytes(w.keys[2].bytes()),
      GetParam() ? std::vector<uint8_t>(32, 0x33) : std::vector<uint8_t>{}, std::move(o));
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Addr(0), Addr(1), 4244, 200);
  std::vector<uint8_t> out(400);
  EXPECT_EQ(rogue->Seal(0, p, absl::MakeSpan(out), w.now), 0u);
  for (auto& m : rogue->TakeOutgoing()) w.hub.Inject("c1", "server", m.bytes);
  // ... and the server's messages for client 2, replayed to client 1.
  for (const Hub::Tapped& t : tapped)
    if (t.to == "c2") w.hub.Inject("c1", "server", t.bytes);
  w.Run();
  EXPECT_TRUE(w.got[1].empty());
  EXPECT_EQ(w.layers[1]->counters().drops_for("unknown_peer"), 1u);

  // Traffic still flows for everyone afterwards. (Client 2's misnamed
  // messages made the server answer it through "c1", as WireGuard follows a
  // peer's latest authenticated endpoint; its next message moves it back.)
  w.got.clear();
  for (int c = 1; c <= kClients; ++c) w.Send(c, 0, 7000 + c);
  w.Run();
  w.Send(0, 2, 7777);
  w.Run();
  EXPECT_EQ(w.got[0].size(), size_t{kClients});
  ASSERT_EQ(w.got[2].size(), 1u);
  EXPECT_EQ(w.got[2][0].tag, 7777);
}

// Messages of two peers in one inner batch (a client copied another's
// genuine message into its own stream): each frame is returned with the
// peer whose key sealed it, never the link's sender name.
TEST_P(IdentityLayerTest, OneInnerBatchWithTwoPeersIsSplitByKey) {
  World w(2, GetParam());
  w.Send(1, 0, 1);
  w.Send(2, 0, 2);
  w.Run();
  w.got.clear();
  size_t mark = w.hub.tap.size();
  w.hub.spoof_from["c1"] = "c2";  // client 1's next message arrives as if from c2
  w.Send(1, 0, 11);
  w.hub.spoof_from.clear();
  w.Send(2, 0, 12);
  w.Send(1, 0, 13);
  ASSERT_EQ(w.hub.tap.size(), mark + 3);
  w.Run();
  std::vector<std::pair<std::string, int64_t>> seen;
  for (const Received& r : w.got[0]) seen.push_back({r.from, r.tag});
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre(::testing::Pair(w.Pub(1), 11),
                                                    ::testing::Pair(w.Pub(2), 12),
                                                    ::testing::Pair(w.Pub(1), 13)));
}

TEST(IdentityLayerTest, SendToAnUnknownKeyIsCounted) {
  World w(1, false);
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Addr(1), Addr(0), 1, 200);
  FrameView v(p);
  ASSERT_TRUE(w.layers[1]->Send("nobody", absl::MakeConstSpan(&v, 1)).ok());
  EXPECT_EQ(w.layers[1]->counters().drops_for("no_peer"), 1u);
  ASSERT_EQ(w.layers[1]->peers().size(), 1u);
  EXPECT_EQ(w.layers[1]->peers()[0].id, w.Pub(0));
}

INSTANTIATE_TEST_SUITE_P(Psk, IdentityLayerTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "with_psk" : "no_psk"; });

// A link whose peers are given, and which records where each message went.
class RecordingLink : public PeerLink {
 public:
  explicit RecordingLink(std::vector<LinkPeer> peers) : peers_(std::move(peers)) {}
  absl::StatusOr<size_t> Send(const std::string& to, absl::Span<const FrameView> frames) override {
    for (size_t i = 0; i < frames.size(); ++i) sent_to.push_back(to);
    return frames.size();
  }
  absl::StatusOr<Received> Receive(FrameBatch&) override { return Received{}; }
  std::vector<LinkPeer> peers() const override { return peers_; }
  void set_peers(std::vector<LinkPeer> peers) { peers_ = std::move(peers); }
  std::vector<std::string> sent_to;

 private:
  std::vector<LinkPeer> peers_;
};

// Where the first handshake initiation for a key goes, before any message
// from that key says which link peer carries it.
std::vector<std::string> FirstInitiationGoesTo(const char* allowed) {
  RecordingLink link({{"192-0-2-12", {*IpPrefix::Parse("192.0.2.12/24")}, false},
                      {"192-0-2-1", {*IpPrefix::Parse("192.0.2.1/24")}, true},
                      {"192-0-2-13", {*IpPrefix::Parse("192.0.2.13/24")}, false}});
  auto crypto = PeerCrypto::Create(
      PrivateKey::Generate(), {},
      {.peers = {{PrivateKey::Generate().public_key(), {*IpPrefix::Parse(allowed)}}}});
  EXPECT_TRUE(crypto.ok()) << crypto.status();
  IdentityLayer layer(*std::move(crypto), &link);
  std::string key = layer.peers()[0].id;
  std::vector<uint8_t> f = PacketBuilder::TaggedUdp(Ip("192.0.2.11"), Ip("192.0.2.1"), 1, 100);
  EXPECT_TRUE(layer.Send(key, {FrameView(f)}).ok());
  return link.sent_to;
}

TEST(IdentityLayerLinkTest, AClientsServerKeyHandshakesWithTheServerOnly) {
  // 0.0.0.0/0 holds every peer's address: the one announcing the server role.
  EXPECT_THAT(FirstInitiationGoesTo("0.0.0.0/0"), ::testing::ElementsAre("192-0-2-1"));
}

TEST(IdentityLayerLinkTest, AServersClientKeyHandshakesWithThatClientOnly) {
  // Every client announces a /24 that overlaps 192.0.2.12/32; only one has
  // that address.
  EXPECT_THAT(FirstInitiationGoesTo("192.0.2.12/32"), ::testing::ElementsAre("192-0-2-12"));
}

TEST(IdentityLayerLinkTest, AnInitiationWaitsForTheTransportToKnowAPeer) {
  // The transport has not discovered its peers yet (fs in its first scan).
  RecordingLink link({});
  auto crypto = PeerCrypto::Create(
      PrivateKey::Generate(), {},
      {.peers = {{PrivateKey::Generate().public_key(), {*IpPrefix::Parse("192.0.2.2/32")}}}});
  ASSERT_TRUE(crypto.ok()) << crypto.status();
  IdentityLayer layer(*std::move(crypto), &link);
  std::vector<uint8_t> f = PacketBuilder::TaggedUdp(Ip("192.0.2.1"), Ip("192.0.2.2"), 1, 100);
  ASSERT_TRUE(layer.Send(layer.peers()[0].id, {FrameView(f)}).ok());
  EXPECT_TRUE(link.sent_to.empty());
  layer.Tick();
  EXPECT_TRUE(link.sent_to.empty());
  link.set_peers({{"192-0-2-2", {*IpPrefix::Parse("192.0.2.2/24")}, false}});
  layer.Tick();  // well before the 5 s retry
  EXPECT_THAT(link.sent_to, ::testing::ElementsAre("192-0-2-2"));
  EXPECT_EQ(layer.counters().drops_for("no_link"), 0u);
}

TEST(IdentityLayerLinkTest, WithNoAddressMatchEveryOverlappingPeerGetsIt) {
  EXPECT_THAT(FirstInitiationGoesTo("192.0.2.128/25"),
              ::testing::UnorderedElementsAre("192-0-2-12", "192-0-2-1", "192-0-2-13"));
}

// Two layers joined by queues: what one sends, the other receives.
class PairLink : public PeerLink {
 public:
  PairLink(std::string me, std::string other) : me_(std::move(me)), other_(std::move(other)) {}
  void Join(PairLink* far) { far_ = far; }
  absl::StatusOr<size_t> Send(const std::string&, absl::Span<const FrameView> frames) override {
    for (FrameView f : frames) far_->queue_.emplace_back(f.begin(), f.end());
    return frames.size();
  }
  absl::StatusOr<Received> Receive(FrameBatch& batch) override {
    Received r;
    while (!queue_.empty() && !batch.full()) {
      EXPECT_TRUE(batch.Append(queue_.front()));
      queue_.pop_front();
      ++r.frames;
      r.from = other_;
    }
    return r;
  }
  std::vector<LinkPeer> peers() const override { return {{other_, {}, false}}; }

 private:
  std::string me_, other_;
  PairLink* far_ = nullptr;
  std::deque<std::vector<uint8_t>> queue_;
};

// A frame sent in `sent_vnet` format to a receiver that wants `want_vnet`.
std::vector<std::vector<uint8_t>> DeliverAcrossFormats(FrameView frame, bool sent_vnet,
                                                       bool want_vnet, CounterSnapshot* drops) {
  PairLink la("a", "b"), lb("b", "a");
  la.Join(&lb);
  lb.Join(&la);
  PrivateKey ka = PrivateKey::Generate(), kb = PrivateKey::Generate();
  PublicKey pa = ka.public_key(), pb = kb.public_key();
  IdentityLayer a(
      *PeerCrypto::Create(std::move(ka), {}, {.peers = {{pb, {*IpPrefix::Parse("0.0.0.0/0")}}}}),
      &la);
  IdentityLayer b(
      *PeerCrypto::Create(std::move(kb), {}, {.peers = {{pa, {*IpPrefix::Parse("192.0.2.0/24")}}}}),
      &lb);
  b.SetDeliverVnet(pa.ToBase64(), want_vnet);
  EXPECT_TRUE(a.Send(pb.ToBase64(), {frame}, sent_vnet).ok());
  std::vector<std::vector<uint8_t>> out;
  FrameBatch batch(8, kMaxFrameSize);
  for (int i = 0; i < 6; ++i) {  // initiation, response, data
    batch.Clear();
    EXPECT_TRUE(b.Receive(batch).ok());
    for (FrameView f : batch.frames()) out.emplace_back(f.begin(), f.end());
    batch.Clear();
    EXPECT_TRUE(a.Receive(batch).ok());
  }
  *drops = b.counters();
  return out;
}

TEST(IdentityLayerFormatTest, APlainPacketGetsAnEmptyHeaderForAnOffloadingReceiver) {
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 300);
  CounterSnapshot drops;
  auto got = DeliverAcrossFormats(FrameView(p), false, true, &drops);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], WithEmptyVnetHeader(p));
}

TEST(IdentityLayerFormatTest, AFinishedVnetFrameLosesItsHeaderForAPlainReceiver) {
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 300);
  CounterSnapshot drops;
  auto got = DeliverAcrossFormats(FrameView(WithEmptyVnetHeader(p)), true, false, &drops);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], p);
}

TEST(IdentityLayerFormatTest, ASuperPacketForAPlainReceiverIsCountedNotDelivered) {
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 3000);
  VirtioNetHeader h;
  h.gso_type = kVirtioGsoUdpL4;
  h.gso_size = 1000;
  std::vector<uint8_t> frame(kVirtioNetHdrSize);
  WriteVirtioNetHeader(h, absl::MakeSpan(frame));
  frame.insert(frame.end(), p.begin(), p.end());
  CounterSnapshot drops;
  auto got = DeliverAcrossFormats(FrameView(frame), true, false, &drops);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(drops.drops_for("offload_mismatch"), 1u);
}

TEST(IdentityLayerFormatTest, TheSameFormatPassesUnchanged) {
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 300);
  std::vector<uint8_t> v = WithEmptyVnetHeader(p);
  CounterSnapshot drops;
  auto got = DeliverAcrossFormats(FrameView(v), true, true, &drops);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], v);
}

}  // namespace
}  // namespace fstun
