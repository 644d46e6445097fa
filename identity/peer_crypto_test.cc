// PeerCrypto over a fake network in one process, with a fake clock: every
// message a node puts in its outbox (or seals) is carried to the node that
// owns the destination key, and recorded, so tests can replay, reorder,
// drop, forge and eavesdrop.
#include "identity/peer_crypto.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/messages.h"
#include "testing/packet_builder.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

struct Wire {
  size_t from;
  size_t to;
  std::vector<uint8_t> bytes;
};

class Net {
 public:
  // Node 0 is the server (allowed 0.0.0.0/0 from each client), nodes 1..n
  // clients with 192.0.2.(1+i)/32; node 0 is 192.0.2.1.
  Net(int clients, std::vector<uint8_t> psk = {}) : psk_(std::move(psk)) {
    for (int i = 0; i <= clients; ++i) keys_.push_back(PrivateKey::Generate());
    for (int i = 0; i <= clients; ++i) Start(i);
  }

  static IpAddress Addr(size_t node) { return Ip("192.0.2." + std::to_string(node + 1)); }

  // (Re)starts node `i` with fresh state and the same key.
  void Start(size_t i) {
    PeerCryptoOptions o;
    std::vector<size_t> map;
    if (i == 0) {
      for (size_t c = 1; c < keys_.size(); ++c) {
        o.peers.push_back({keys_[c].public_key(), {IpPrefix{Addr(c), 32}}});
        map.push_back(c);
      }
    } else {
      o.peers.push_back({keys_[0].public_key(), {*IpPrefix::Parse("0.0.0.0/0")}});
      map.push_back(0);
    }
    if (auto c = ciphers.find(i); c != ciphers.end()) o.cipher = c->second;
    auto pc = PeerCrypto::Create(PrivateKey::FromBytes(keys_[i].bytes()), psk_, std::move(o));
    CHECK(pc.ok()) << pc.status();
    if (nodes_.size() <= i) nodes_.resize(i + 1);
    nodes_[i] = std::move(*pc);
    if (peer_node_.size() <= i) peer_node_.resize(i + 1);
    peer_node_[i] = map;
  }

  PeerCrypto& node(size_t i) { return *nodes_[i]; }
  // The peer slot node `i` uses for node `j`.
  size_t Slot(size_t i, size_t j) {
    for (size_t s = 0; s < peer_node_[i].size(); ++s)
      if (peer_node_[i][s] == j) return s;
    ADD_FAILURE() << "no slot";
    return 0;
  }

  // Node `from` sends an IP packet to node `to` (through the server's
  // routing when `from` is a client).
  void Send(size_t from, size_t to, uint32_t tag, std::optional<IpAddress> src = std::nullopt) {
    std::vector<uint8_t> p = PacketBuilder::TaggedUdp(src ? *src : Addr(from), Addr(to), tag, 100);
    size_t slot = from == 0 ? Slot(0, to) : 0;
    std::vector<uint8_t> out(p.size() + kDataOverhead);
    size_t n = node(from).Seal(slot, p, absl::MakeSpan(out), now);
    if (n > 0) {
      out.resize(n);
      Queue(from, peer_node_[from][slot], std::move(out));
    }
    Collect(from);
  }

  void Collect(size_t from) {
    for (auto& o : node(from).TakeOutgoing()) Queue(from, peer_node_[from][o.peer], o.bytes);
  }
  void Queue(size_t from, size_t to, std::vector<uint8_t> bytes) {
    in_flight.push_back({from, to, bytes});
    recorded.push_back({from, to, std::move(bytes)});
  }

  // Delivers one message; returns the Open result.
  PeerCrypto::Opened Deliver(const Wire& w) {
    std::vector<uint8_t> out(w.bytes.size());
    PeerCrypto::Opened r = node(w.to).Open(w.bytes, absl::MakeSpan(out), now);
    last_drop = r.drop;
    if (!r.drop.empty()) drops[w.to][r.drop]++;
    if (r.deliver) {
      out.resize(r.size);
      delivered[w.to].push_back(PacketBuilder::TagOf(out));
      delivered_from[w.to].push_back(peer_node_[w.to][r.peer]);
    }
    Collect(w.to);
    return r;
  }

  // Carries everything until quiet (bounded).
  void Run() {
    for (int round = 0; round < 1000 && !in_flight.empty(); ++round) {
      Wire w = in_flight.front();
      in_flight.erase(in_flight.begin());
      Deliver(w);
    }
  }
  void Tick() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      node(i).Tick(now);
      Collect(i);
    }
  }

  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  std::vector<Wire> in_flight;
  std::vector<Wire> recorded;
  std::map<size_t, std::vector<int64_t>> delivered;
  std::map<size_t, std::vector<size_t>> delivered_from;
  std::map<size_t, std::map<std::string, int>> drops;
  std::string last_drop;
  std::vector<PrivateKey> keys_;
  // What node i seals with, if not --cipher's default (takes effect at Start).
  std::map<size_t, aead::Cipher> ciphers;

 private:
  std::vector<uint8_t> psk_;
  std::vector<std::unique_ptr<PeerCrypto>> nodes_;
  std::vector<std::vector<size_t>> peer_node_;
};

std::vector<Wire> OfType(const std::vector<Wire>& v, MessageType t) {
  std::vector<Wire> out;
  for (const Wire& w : v)
    if (ClassifyMessage(w.bytes) == t) out.push_back(w);
  return out;
}

TEST(PeerCryptoTest, HandshakeThenDataBothWays) {
  Net net(1);
  net.Send(1, 0, 1);  // queued, initiation sent
  ASSERT_EQ(net.in_flight.size(), 1u);
  EXPECT_EQ(ClassifyMessage(net.in_flight[0].bytes), MessageType::kInitiation);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1));
  net.Send(0, 1, 2);
  net.Send(1, 0, 3);
  net.Run();
  EXPECT_THAT(net.delivered[1], ::testing::ElementsAre(2));
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 3));
  EXPECT_EQ(OfType(net.recorded, MessageType::kInitiation).size(), 1u);
  EXPECT_EQ(OfType(net.recorded, MessageType::kResponse).size(), 1u);
  EXPECT_EQ(net.node(0).Status()[0].last_handshake, net.now);
  EXPECT_EQ(net.node(1).Status()[0].last_handshake, net.now);
  EXPECT_EQ(net.node(0).counters().total_drops(), 0u);
  EXPECT_EQ(net.node(1).counters().total_drops(), 0u);
}

TEST(PeerCryptoTest, ReplayedDataIsDroppedAndReorderedDataInsideTheWindowPasses) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  for (uint32_t t = 10; t < 20; ++t) net.Send(1, 0, t);
  std::vector<Wire> batch = net.in_flight;
  net.in_flight.clear();
  std::reverse(batch.begin(), batch.end());
  for (const Wire& w : batch) net.Deliver(w);
  EXPECT_EQ(net.delivered[0].size(), 11u);
  for (const Wire& w : batch) {
    net.Deliver(w);
    EXPECT_EQ(net.last_drop, "replay");
  }
  EXPECT_EQ(net.delivered[0].size(), 11u);
}

TEST(PeerCryptoTest, ReplayedAndStaleInitiationsAreRefused) {
  Net net(1);
  net.Send(1, 0, 1);
  Wire first = net.in_flight[0];
  net.in_flight.clear();
  // The client retries (its first initiation was lost); a second one with a
  // newer timestamp and a new ephemeral key goes out.
  net.now += absl::Seconds(5);
  net.Tick();
  ASSERT_EQ(net.in_flight.size(), 1u);
  Wire second = net.in_flight[0];
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1));
  // The older one arrives late (reordered): refused, no new session.
  net.now += absl::Seconds(1);
  net.Deliver(first);
  EXPECT_EQ(net.last_drop, "handshake_replay");
  EXPECT_TRUE(net.in_flight.empty());
  // A replay of the accepted one: refused too.
  net.Deliver(second);
  EXPECT_EQ(net.last_drop, "handshake_replay");
  EXPECT_TRUE(net.in_flight.empty());
  // Traffic is unaffected.
  net.Send(0, 1, 5);
  net.Run();
  EXPECT_THAT(net.delivered[1], ::testing::ElementsAre(5));
}

TEST(PeerCryptoTest, ResponsesThatAreStaleReplayedOrForeignAreDropped) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  Wire resp = OfType(net.recorded, MessageType::kResponse)[0];
  net.Deliver(resp);  // replay: the handshake it answered is done
  EXPECT_EQ(net.last_drop, "unknown_session");
  net.Send(1, 0, 2);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 2));
}

TEST(PeerCryptoTest, ReplayedInitiationAfterResponderRestartCreatesNoUsableSession) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  Wire init = OfType(net.recorded, MessageType::kInitiation)[0];
  net.Start(0);  // the server restarts: it forgot the timestamps
  net.now += absl::Seconds(1);
  net.recorded.clear();
  net.Deliver(init);                    // an attacker replays the recorded initiation
  ASSERT_EQ(net.in_flight.size(), 1u);  // a response nobody can use
  net.in_flight.clear();
  // The server must not send data on that unconfirmed session.
  net.Send(0, 1, 7);
  EXPECT_TRUE(OfType(net.in_flight, MessageType::kData).empty());
}

TEST(PeerCryptoTest, ClientRestartIsAcceptedAndOldSessionsGoAway) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  Wire old_data = OfType(net.recorded, MessageType::kData)[0];
  net.now += absl::Seconds(3);
  net.Start(1);  // client restarts
  net.Send(1, 0, 2);
  net.Run();
  net.Send(0, 1, 3);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 2));
  EXPECT_THAT(net.delivered[1], ::testing::ElementsAre(3));
  // Another handshake later: the session from before the restart is gone.
  net.now += absl::Seconds(121);
  net.Send(1, 0, 4);
  net.Run();
  net.Send(1, 0, 5);
  net.Run();
  net.Deliver(old_data);
  EXPECT_EQ(net.last_drop, "unknown_session");
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 2, 4, 5));
}

TEST(PeerCryptoTest, ServerRestartRecoversByANewHandshake) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  net.Start(0);
  net.now += absl::Seconds(1);
  net.Send(1, 0, 2);  // old session: the new server run cannot open it
  net.Run();
  EXPECT_EQ(net.drops[0]["unknown_session"], 1);
  // The client hears nothing back; after keepalive + rekey timeout it
  // starts a new handshake.
  net.now += absl::Seconds(15);
  net.Tick();
  net.Run();
  net.Send(1, 0, 3);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 3));
}

TEST(PeerCryptoTest, UnlistedPeerIsDroppedAndCounted) {
  Net net(1);
  PeerCryptoOptions o;
  o.peers.push_back({net.keys_[0].public_key(), {*IpPrefix::Parse("0.0.0.0/0")}});
  auto stranger = *PeerCrypto::Create(PrivateKey::Generate(), {}, std::move(o));
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Net::Addr(1), Net::Addr(0), 9, 100);
  std::vector<uint8_t> out(200);
  for (int i = 0; i < 3; ++i) {
    net.now += absl::Seconds(6);
    if (i == 0) {
      EXPECT_EQ(stranger->Seal(0, p, absl::MakeSpan(out), net.now), 0u);
    } else {
      stranger->Tick(net.now);  // retries
    }
    for (auto& m : stranger->TakeOutgoing()) net.Deliver({9, 0, m.bytes});
    EXPECT_EQ(net.last_drop, "unknown_peer");
  }
  EXPECT_EQ(net.node(0).counters().drops_for("unknown_peer"), 3u);
  EXPECT_TRUE(net.in_flight.empty());
  EXPECT_TRUE(net.delivered[0].empty());
}

TEST(PeerCryptoTest, DataUnderAnotherKeyOrTamperedFailsAuthentication) {
  Net net(2);
  net.Send(1, 0, 1);
  net.Send(2, 0, 2);
  net.Run();
  std::vector<Wire> data = OfType(net.recorded, MessageType::kData);
  Wire w = data.back();
  for (size_t at : {size_t{1}, size_t{8}, size_t{20}, w.bytes.size() - 1}) {
    Wire t = w;
    t.bytes[at] ^= 1;
    net.Deliver(t);
    EXPECT_TRUE(net.last_drop == "auth_failed" || net.last_drop == "malformed") << at;
  }
  // Client 2 seals with its own key but names client 1's session index.
  Wire c1 = OfType(net.recorded, MessageType::kData)[0];
  net.Send(2, 0, 3);
  Wire c2 = net.in_flight.back();
  net.in_flight.clear();
  std::memcpy(c2.bytes.data() + 4, c1.bytes.data() + 4, 4);
  net.Deliver(c2);
  EXPECT_EQ(net.last_drop, "auth_failed");
  EXPECT_THAT(net.delivered[0], ::testing::UnorderedElementsAre(1, 2));
}

// Each end seals with its own --cipher and opens whatever its peers picked:
// a ChaCha20-Poly1305 client and an AES-256-GCM client talk to an AES-256-GCM
// server, both ways; the flag names the cipher, and a message whose flag is
// switched to the other cipher does not authenticate.
TEST(PeerCryptoTest, EachEndSealsWithItsOwnCipherAndOpensTheOthers) {
  Net net(2);
  net.ciphers = {{0, aead::Cipher::kAes256Gcm},
                 {1, aead::Cipher::kChaCha20Poly1305},
                 {2, aead::Cipher::kAes256Gcm}};
  for (size_t i = 0; i < 3; ++i) net.Start(i);
  for (uint32_t tag = 1; tag <= 3; ++tag) {
    net.Send(1, 0, tag);
    net.Send(2, 0, 10 + tag);
    net.Send(0, 1, 20 + tag);
    net.Send(0, 2, 30 + tag);
    net.Run();
  }
  EXPECT_THAT(net.delivered[0], ::testing::UnorderedElementsAre(1, 2, 3, 11, 12, 13));
  EXPECT_THAT(net.delivered[1], ::testing::ElementsAre(21, 22, 23));
  EXPECT_THAT(net.delivered[2], ::testing::ElementsAre(31, 32, 33));
  for (const Wire& w : OfType(net.recorded, MessageType::kData)) {
    EXPECT_EQ((w.bytes[1] & kDataFlagAesGcm) != 0, w.from != 1) << "from " << w.from;
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(net.node(i).counters().total_drops(), 0u) << i;
  std::vector<PeerCrypto::PeerInfo> server = net.node(0).Status();
  EXPECT_EQ(server[net.Slot(0, 1)].received_cipher, aead::Cipher::kChaCha20Poly1305);
  EXPECT_EQ(server[net.Slot(0, 2)].received_cipher, aead::Cipher::kAes256Gcm);
  EXPECT_EQ(net.node(1).Status()[0].received_cipher, aead::Cipher::kAes256Gcm);
  for (size_t from : {1, 2}) {
    net.Send(from, 0, 50);
    Wire w = net.in_flight.back();
    net.in_flight.clear();
    w.bytes[1] ^= kDataFlagAesGcm;
    net.Deliver(w);
    EXPECT_EQ(net.last_drop, "auth_failed") << from;
  }
}

TEST(PeerCryptoTest, MismatchedPresharedKeyNeverCompletes) {
  Net net(1, std::vector<uint8_t>(32, 1));
  // Restart the client without the psk.
  PeerCryptoOptions o;
  o.peers.push_back({net.keys_[0].public_key(), {*IpPrefix::Parse("0.0.0.0/0")}});
  auto client = *PeerCrypto::Create(PrivateKey::FromBytes(net.keys_[1].bytes()), {}, std::move(o));
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Net::Addr(1), Net::Addr(0), 9, 100);
  std::vector<uint8_t> out(200);
  client->Seal(0, p, absl::MakeSpan(out), net.now);
  for (auto& m : client->TakeOutgoing()) net.Deliver({1, 0, m.bytes});
  ASSERT_EQ(net.in_flight.size(), 1u);  // the server answers (it cannot tell)
  std::vector<uint8_t> buf(200);
  PeerCrypto::Opened r = client->Open(net.in_flight[0].bytes, absl::MakeSpan(buf), net.now);
  EXPECT_EQ(r.drop, "handshake_invalid");
  EXPECT_TRUE(client->TakeOutgoing().empty());
  EXPECT_TRUE(net.delivered[0].empty());
}

TEST(PeerCryptoTest, SpoofedInnerSourceIsDropped) {
  Net net(2);
  net.Send(1, 0, 1);
  net.Run();
  net.Send(1, 0, 2, Net::Addr(2));  // client 1 claims client 2's address
  net.Run();
  EXPECT_EQ(net.drops[0]["source_not_allowed"], 1);
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1));
}

TEST(PeerCryptoTest, HandshakeRetriesThenGivesUpAndDropsQueuedFrames) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Send(1, 0, 2);
  EXPECT_EQ(OfType(net.in_flight, MessageType::kInitiation).size(), 1u);  // one, not two
  net.in_flight.clear();                                                  // the server is away
  int initiations = 1;
  for (int s = 0; s < 100; ++s) {
    net.now += absl::Seconds(1);
    net.Tick();
    initiations += OfType(net.in_flight, MessageType::kInitiation).size();
    net.in_flight.clear();
  }
  EXPECT_EQ(initiations, 18);  // at 0, 5, ..., 85 s; at 90 s it gives up
  EXPECT_EQ(net.node(1).counters().drops_for("handshake_timeout"), 2u);
  // Traffic later starts over.
  net.Send(1, 0, 3);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(3));
}

TEST(PeerCryptoTest, ResponseToTheInitiationARetryReplacedStillCompletes) {
  Net net(1);
  net.Send(1, 0, 1);
  Wire first = net.in_flight[0];
  net.in_flight.clear();
  net.now += absl::Seconds(5);
  net.Tick();  // retry: a second initiation
  Wire second = net.in_flight[0];
  net.in_flight.clear();
  net.Deliver(first);  // the slow medium delivers the first one only now
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1));
  // An initiation two retries old is no longer answered usefully.
  Net net2(1);
  net2.Send(1, 0, 1);
  Wire old = net2.in_flight[0];
  net2.in_flight.clear();
  for (int i = 0; i < 2; ++i) {
    net2.now += absl::Seconds(5);
    net2.Tick();
    net2.in_flight.clear();
  }
  net2.Deliver(old);
  ASSERT_EQ(net2.in_flight.size(), 1u);  // the server answers...
  net2.Run();
  EXPECT_EQ(net2.drops[1]["unknown_session"], 1);  // ...the client forgot it
  EXPECT_TRUE(net2.delivered[0].empty());
}

// An idle tunnel wakes at its timers' own cadence: NextTimer names the
// moment Tick next does something, Tick before it does nothing, and the
// deadlines are seconds apart (retry 5 s, keepalive 10 s, expiry 180 s).
TEST(PeerCryptoTest, NextTimerIsWhenTickNextActs) {
  Net net(1);
  const absl::Time start = net.now;
  EXPECT_EQ(net.node(0).NextTimer(), absl::InfiniteFuture());  // nothing pending
  EXPECT_EQ(net.node(1).NextTimer(), absl::InfiniteFuture());
  // An initiation nobody answers: the retry is due rekey_timeout later.
  net.Send(1, 0, 1);
  net.in_flight.clear();
  // Node `n`'s timer is due at `due`: a Tick just before sends nothing, a
  // Tick then sends one message of type `type`.
  auto acts_at = [&net](size_t n, absl::Time due, MessageType type) {
    EXPECT_EQ(net.node(n).NextTimer(), due);
    net.now = due - absl::Milliseconds(1);
    net.Tick();
    EXPECT_TRUE(net.in_flight.empty());
    net.now = net.node(n).NextTimer();
    net.Tick();
    EXPECT_EQ(OfType(net.in_flight, type).size(), 1u);
  };
  acts_at(1, start + absl::Seconds(5), MessageType::kInitiation);  // the retry
  // It completes; a second later the server receives data and sends
  // nothing: its keepalive is due keepalive_timeout after that data.
  net.Run();
  net.now += absl::Seconds(1);
  net.Send(1, 0, 2);
  net.Run();
  ASSERT_THAT(net.delivered[0], ::testing::ElementsAre(1, 2));
  acts_at(0, net.now + absl::Seconds(10), MessageType::kData);  // the keepalive
  net.Run();
  // Left alone for five minutes (messages delivered as they go), the two
  // ends wake only when NextTimer says, never within a second of the last
  // wake-up, and a handful of times in all: the sessions expire, and then
  // nothing is pending.
  int wakeups = 0;
  absl::Time t = net.now;
  const absl::Time end = t + absl::Minutes(5);
  while (wakeups < 100) {
    const absl::Time next = std::min(net.node(0).NextTimer(), net.node(1).NextTimer());
    if (next >= end) break;
    EXPECT_GE(next - t, absl::Seconds(1)) << "wake-up " << wakeups;
    t = net.now = next;
    net.Tick();
    net.Run();
    ++wakeups;
  }
  EXPECT_LE(wakeups, 4);
  EXPECT_EQ(net.node(0).NextTimer(), absl::InfiniteFuture());
  EXPECT_EQ(net.node(1).NextTimer(), absl::InfiniteFuture());
}

TEST(PeerCryptoTest, RekeysAfterTimeAndKeepsDelivering) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  net.now += absl::Seconds(121);
  net.Send(1, 0, 2);  // old session still used, and a new handshake starts
  EXPECT_EQ(OfType(net.in_flight, MessageType::kInitiation).size(), 1u);
  net.Run();
  net.Send(0, 1, 3);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 2));
  EXPECT_THAT(net.delivered[1], ::testing::ElementsAre(3));
  EXPECT_EQ(OfType(net.recorded, MessageType::kInitiation).size(), 2u);
  // Past reject_after_time no session from the first handshake is used.
  net.now += absl::Seconds(200);
  net.Tick();
  net.Send(0, 1, 4);
  EXPECT_TRUE(OfType(net.in_flight, MessageType::kData).empty());
  net.Run();
  EXPECT_THAT(net.delivered[1], ::testing::ElementsAre(3, 4));
}

TEST(PeerCryptoTest, CounterExhaustionStopsTheSessionAndRekeys) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  IdentityTiming t;
  // Near rekey_after_messages: still sent, and a handshake starts.
  net.node(1).SetSendCounterForTest(0, t.rekey_after_messages);
  net.Send(1, 0, 2);
  EXPECT_EQ(OfType(net.in_flight, MessageType::kData).size(), 1u);
  EXPECT_EQ(OfType(net.in_flight, MessageType::kInitiation).size(), 1u);
  net.in_flight.clear();
  // At reject_after_messages nothing more is sealed with that session.
  net.node(1).SetSendCounterForTest(0, t.reject_after_messages);
  net.now += absl::Seconds(6);
  net.Send(1, 0, 3);
  EXPECT_TRUE(OfType(net.in_flight, MessageType::kData).empty());
  EXPECT_EQ(net.node(1).counters().drops_for("counter_exhausted"), 1u);
  EXPECT_EQ(OfType(net.in_flight, MessageType::kInitiation).size(), 1u);
  net.Run();
  net.Send(1, 0, 4);
  net.Run();
  EXPECT_THAT(net.delivered[0], ::testing::ElementsAre(1, 4));
}

TEST(PeerCryptoTest, ReceiverRefusesCountersAtTheLimit) {
  Net net(1);
  net.Send(1, 0, 1);
  net.Run();
  Wire w = OfType(net.recorded, MessageType::kData)[0];
  StoreLe64(w.bytes.data() + 8, ~uint64_t{0});
  net.Deliver(w);
  EXPECT_EQ(net.last_drop, "counter_exhausted");
}

TEST(PeerCryptoTest, ConfigurationErrors) {
  PrivateKey me = PrivateKey::Generate();
  PublicKey a = PrivateKey::Generate().public_key();
  PublicKey b = PrivateKey::Generate().public_key();
  IpPrefix p = *IpPrefix::Parse("192.0.2.2/32");
  auto make = [&](std::vector<PeerConfig> peers) {
    return PeerCrypto::Create(PrivateKey::FromBytes(me.bytes()), {}, {.peers = peers});
  };
  EXPECT_FALSE(make({{a, {p}}, {a, {}}}).ok());
  EXPECT_FALSE(make({{me.public_key(), {p}}}).ok());
  EXPECT_FALSE(make({{a, {p}}, {b, {p}}}).ok());
  EXPECT_FALSE(make({{PublicKey(), {p}}}).ok());
  EXPECT_TRUE(make({{a, {p}}, {b, {*IpPrefix::Parse("192.0.2.0/24")}}}).ok());
  EXPECT_FALSE(ParsePeerSpec("abc").ok());
  EXPECT_FALSE(ParsePeerSpec(a.ToBase64() + ",banana").ok());
  auto spec = ParsePeerSpec(a.ToBase64() + ",192.0.2.2/32, 2001:db8::2/128");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->public_key, a);
  EXPECT_EQ(spec->allowed.size(), 2u);
}

TEST(PeerCryptoTest, LongestPrefixPicksThePeer) {
  PublicKey a = PrivateKey::Generate().public_key();
  PublicKey b = PrivateKey::Generate().public_key();
  auto pc = *PeerCrypto::Create(
      PrivateKey::Generate(), {},
      {.peers = {{a, {*IpPrefix::Parse("0.0.0.0/0")}}, {b, {*IpPrefix::Parse("192.0.2.8/29")}}}});
  EXPECT_EQ(pc->PeerFor(Ip("192.0.2.9")), 1u);
  EXPECT_EQ(pc->PeerFor(Ip("198.51.100.1")), 0u);
  EXPECT_EQ(pc->PeerFor(Ip("2001:db8::1")), std::nullopt);
}

// One server, eight clients, per-peer keys (and the same with a preshared
// key on top): no loss; no client reads another's frames, sends as another
// or poses as the server.
class MultiPeerTest : public ::testing::TestWithParam<bool> {};

TEST_P(MultiPeerTest, EightClientsAreIsolated) {
  constexpr int kClients = 8, kFrames = 50;
  Net net(kClients, GetParam() ? std::vector<uint8_t>(32, 0x5a) : std::vector<uint8_t>{});
  for (int f = 0; f < kFrames; ++f) {
    for (int c = 1; c <= kClients; ++c) {
      net.Send(c, 0, c * 1000 + f);
      net.Send(0, c, 100000 + c * 1000 + f);
    }
    net.Run();
  }
  for (int c = 1; c <= kClients; ++c) {
    std::vector<int64_t> want;
    for (int f = 0; f < kFrames; ++f) want.push_back(100000 + c * 1000 + f);
    EXPECT_EQ(net.delivered[c], want) << "client " << c;
    EXPECT_EQ(net.node(c).counters().total_drops(), 0u) << net.node(c).counters().ToString();
  }
  EXPECT_EQ(net.delivered[0].size(), size_t{kClients * kFrames});
  for (size_t i = 0; i < net.delivered[0].size(); ++i) {
    // Attributed to the client whose key sealed it (tag c*1000+f).
    EXPECT_EQ(net.delivered_from[0][i], static_cast<size_t>(net.delivered[0][i] / 1000));
  }
  EXPECT_EQ(net.node(0).counters().total_drops(), 0u);

  // Client 2 reads everything on the wire (a readable folder): none of the
  // messages for client 1 or for the server opens at client 2.
  std::vector<Wire> wire = net.recorded;
  net.delivered.clear();
  int tried = 0;
  for (const Wire& w : wire) {
    if (w.to == 2 || w.from == 2) continue;
    Wire stolen = w;
    stolen.to = 2;
    net.Deliver(stolen);
    ++tried;
  }
  EXPECT_GT(tried, kFrames * 8);
  EXPECT_TRUE(net.delivered[2].empty());
  net.in_flight.clear();

  // Client 2 sends with client 1's address as inner source: dropped.
  net.Send(2, 0, 77, Net::Addr(1));
  net.Run();
  EXPECT_TRUE(net.delivered[0].empty());
  EXPECT_GE(net.node(0).counters().drops_for("source_not_allowed"), 1u);

  // Client 2 names client 1's session at the server (a spoofed sender):
  // the tag fails under client 1's key.
  Wire from1;
  for (const Wire& w : wire)
    if (w.from == 1 && ClassifyMessage(w.bytes) == MessageType::kData) from1 = w;
  net.Send(2, 0, 78);
  ASSERT_EQ(net.in_flight.size(), 1u);
  Wire spoof = net.in_flight[0];
  net.in_flight.clear();
  std::memcpy(spoof.bytes.data() + msg::kDataReceiver, from1.bytes.data() + msg::kDataReceiver, 4);
  net.Deliver(spoof);
  EXPECT_EQ(net.last_drop, "auth_failed");
  EXPECT_TRUE(net.delivered[0].empty());

  // Client 2 poses as the server to client 1: it holds its own key, lists
  // client 1, and starts a handshake. Client 1 accepts only the server's key.
  PeerCryptoOptions o;
  o.peers.push_back({net.keys_[1].public_key(), {IpPrefix{Net::Addr(1), 32}}});
  auto rogue = *PeerCrypto::Create(
      PrivateKey::FromBytes(net.keys_[2].bytes()),
      GetParam() ? std::vector<uint8_t>(32, 0x5a) : std::vector<uint8_t>{}, std::move(o));
  std::vector<uint8_t> p = PacketBuilder::TaggedUdp(Net::Addr(0), Net::Addr(1), 79, 100);
  std::vector<uint8_t> out(200);
  EXPECT_EQ(rogue->Seal(0, p, absl::MakeSpan(out), net.now), 0u);
  for (auto& m : rogue->TakeOutgoing()) net.Deliver({2, 1, m.bytes});
  EXPECT_EQ(net.last_drop, "unknown_peer");
  // ... and replaying the server's frames for client 2 to client 1 fails.
  for (const Wire& w : wire) {
    if (w.to != 2 || ClassifyMessage(w.bytes) != MessageType::kData) continue;
    net.Deliver({2, 1, w.bytes});
    EXPECT_FALSE(net.last_drop.empty());
  }
  EXPECT_TRUE(net.delivered[1].empty());
}

INSTANTIATE_TEST_SUITE_P(Psk, MultiPeerTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "with_psk" : "no_psk"; });

}  // namespace
}  // namespace fstun
