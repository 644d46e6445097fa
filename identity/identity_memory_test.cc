// Per-peer identity over the real memory transport: one server joined to
// eight clients by one MemoryTransport pair each (a star), every node with
// its own key, with and without the preshared key. Frames of MTU size go
// both ways at once; nothing is lost, each frame is attributed to its
// sender's key, and the transports' own counters show no drops.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "identity/identity_layer.h"
#include "identity/messages.h"
#include "testing/packet_builder.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

// A PeerLink over point-to-point transports, one per link peer.
class StarLink : public PeerLink {
 public:
  void Add(std::string id, std::unique_ptr<Transport> t, std::vector<IpPrefix> announced) {
    ends_.push_back({std::move(id), std::move(t), std::move(announced)});
  }
  absl::StatusOr<size_t> Send(const std::string& to, absl::Span<const FrameView> frames) override {
    for (auto& e : ends_) {
      if (e.id != to) continue;
      return e.transport->Send(MemoryTransport::kPeer, frames);
    }
    return frames.size();
  }
  absl::StatusOr<Received> Receive(FrameBatch& batch) override {
    for (size_t k = 0; k < ends_.size(); ++k) {
      End& e = ends_[(next_ + k) % ends_.size()];
      absl::StatusOr<Transport::Received> n = e.transport->Receive(batch);
      if (!n.ok()) return n.status();
      if (n->frames > 0) {
        next_ = (next_ + k + 1) % ends_.size();
        return Received{n->frames, e.id};
      }
    }
    return Received{};
  }
  std::vector<LinkPeer> peers() const override {
    std::vector<LinkPeer> out;
    for (const auto& e : ends_) out.push_back({e.id, e.announced});
    return out;
  }
  uint64_t transport_drops() const {
    uint64_t d = 0;
    for (const auto& e : ends_) d += e.transport->counters().total_drops();
    return d;
  }

 private:
  struct End {
    std::string id;
    std::unique_ptr<Transport> transport;
    std::vector<IpPrefix> announced;  // as an fs peer announces its address
  };
  std::vector<End> ends_;
  size_t next_ = 0;
};

IpAddress Addr(int i) { return Ip("192.0.2." + std::to_string(i + 1)); }

class IdentityMemoryTest : public ::testing::TestWithParam<bool> {};

TEST_P(IdentityMemoryTest, ServerAndEightClientsOverMemoryTransports) {
  constexpr int kClients = 8, kFrames = 200;
  constexpr size_t kMtu = 1500;
  std::vector<uint8_t> psk = GetParam() ? std::vector<uint8_t>(32, 9) : std::vector<uint8_t>{};
  std::vector<PrivateKey> keys;
  for (int i = 0; i <= kClients; ++i) keys.push_back(PrivateKey::Generate());
  std::vector<std::unique_ptr<StarLink>> links;
  for (int i = 0; i <= kClients; ++i) links.push_back(std::make_unique<StarLink>());
  for (int c = 1; c <= kClients; ++c) {
    auto [s, cl] = MemoryTransport::CreatePair({.mtu = kMtu + kDataOverhead});
    links[0]->Add("c" + std::to_string(c), std::move(s), {IpPrefix{Addr(c), 32}});
    links[c]->Add("server", std::move(cl), {IpPrefix{Addr(0), 32}});
  }
  std::vector<std::unique_ptr<IdentityLayer>> layers;
  for (int i = 0; i <= kClients; ++i) {
    PeerCryptoOptions o;
    if (i == 0) {
      for (int c = 1; c <= kClients; ++c)
        o.peers.push_back({keys[c].public_key(), {IpPrefix{Addr(c), 32}}});
    } else {
      o.peers.push_back({keys[0].public_key(), {*IpPrefix::Parse("0.0.0.0/0")}});
    }
    auto pc = PeerCrypto::Create(PrivateKey::FromBytes(keys[i].bytes()), psk, std::move(o));
    ASSERT_TRUE(pc.ok()) << pc.status();
    layers.push_back(std::make_unique<IdentityLayer>(std::move(*pc), links[i].get()));
  }

  std::map<int, std::map<std::string, std::vector<int64_t>>> got;
  FrameBatch batch(64, kMaxFrameSize);
  auto drain = [&] {
    for (int round = 0; round < 100; ++round) {
      size_t moved = 0;
      for (int i = 0; i <= kClients; ++i) {
        batch.Clear();
        absl::StatusOr<PeerLink::Received> r = layers[i]->Receive(batch);
        ASSERT_TRUE(r.ok()) << r.status();
        for (FrameView f : batch.frames()) got[i][r->from].push_back(PacketBuilder::TagOf(f));
        moved += r->frames;
      }
      if (moved == 0 && round > 2) return;
    }
  };
  for (int f = 0; f < kFrames; f += 20) {
    for (int c = 1; c <= kClients; ++c) {
      std::vector<std::vector<uint8_t>> up, down;
      std::vector<FrameView> upv, downv;
      for (int k = f; k < f + 20; ++k) {
        up.push_back(PacketBuilder::TaggedUdp(Addr(c), Addr(0), c * 1000 + k, kMtu));
        down.push_back(PacketBuilder::TaggedUdp(Addr(0), Addr(c), 100000 + c * 1000 + k, kMtu));
      }
      for (auto& p : up) upv.push_back(p);
      for (auto& p : down) downv.push_back(p);
      ASSERT_TRUE(layers[c]->Send(keys[0].public_key().ToBase64(), upv).ok());
      ASSERT_TRUE(layers[0]->Send(keys[c].public_key().ToBase64(), downv).ok());
    }
    drain();
  }
  for (int c = 1; c <= kClients; ++c) {
    std::vector<int64_t> up, down;
    for (int k = 0; k < kFrames; ++k) {
      up.push_back(c * 1000 + k);
      down.push_back(100000 + c * 1000 + k);
    }
    EXPECT_EQ(got[0][keys[c].public_key().ToBase64()], up) << "from client " << c;
    EXPECT_EQ(got[c][keys[0].public_key().ToBase64()], down) << "to client " << c;
    EXPECT_EQ(got[c].size(), 1u);
    EXPECT_EQ(layers[c]->counters().total_drops(), 0u) << layers[c]->counters().ToString();
    EXPECT_EQ(links[c]->transport_drops(), 0u);
  }
  EXPECT_EQ(layers[0]->counters().total_drops(), 0u) << layers[0]->counters().ToString();
  EXPECT_EQ(links[0]->transport_drops(), 0u);
  EXPECT_EQ(layers[0]->counters().rx_frames, size_t{kClients * kFrames});
}

INSTANTIATE_TEST_SUITE_P(Psk, IdentityMemoryTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "with_psk" : "no_psk"; });

}  // namespace
}  // namespace fstun
