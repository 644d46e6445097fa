// Cost of the per-peer data path: seal + open of one frame on an
// established session (PeerCrypto), and batches of 64 frames through
// IdentityLayer over the memory transport (the crypto alone: the memory
// transport costs almost nothing). Compare with seal/seal_benchmark.cc.
//   bazel run -c opt //identity:identity_benchmark
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "identity/identity_layer.h"
#include "identity/messages.h"
#include "seal/aead.h"
#include "testing/packet_builder.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

struct Pair {
  Pair() {
    PrivateKey a = PrivateKey::Generate(), b = PrivateKey::Generate();
    PublicKey pa = a.public_key(), pb = b.public_key();
    x = *PeerCrypto::Create(std::move(a), {}, {.peers = {{pb, {*IpPrefix::Parse("0.0.0.0/0")}}}});
    y = *PeerCrypto::Create(std::move(b), {}, {.peers = {{pa, {*IpPrefix::Parse("0.0.0.0/0")}}}});
    std::vector<uint8_t> out(kMaxFrameSize + kDataOverhead);
    absl::Time now = absl::Now();
    x->Seal(0, {}, absl::MakeSpan(out), now);
    for (int i = 0; i < 3; ++i) {
      for (auto& m : x->TakeOutgoing()) y->Open(m.bytes, absl::MakeSpan(out), now);
      for (auto& m : y->TakeOutgoing()) x->Open(m.bytes, absl::MakeSpan(out), now);
    }
  }
  std::unique_ptr<PeerCrypto> x, y;
};

// range(0): frame size; range(1): 0 = the default AEAD backend (libcrypto
// from aead::kLargeInput bytes on), 1 = libsodium for every size (before).
void BM_SealOpen(benchmark::State& state) {
  aead::InitAead();
  aead::SetBackendForTest(state.range(1) ? aead::Backend::kLibsodium : aead::Backend::kAuto);
  Pair p;
  std::vector<uint8_t> frame =
      PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, state.range(0));
  std::vector<uint8_t> sealed(frame.size() + kDataOverhead), out(frame.size());
  absl::Time now = absl::Now();
  for (auto _ : state) {
    size_t n = p.x->Seal(0, frame, absl::MakeSpan(sealed), now);
    PeerCrypto::Opened r = p.y->Open(FrameView(sealed.data(), n), absl::MakeSpan(out), now);
    benchmark::DoNotOptimize(r.size);
  }
  state.SetBytesProcessed(state.iterations() * frame.size());
  aead::SetBackendForTest(aead::Backend::kAuto);
}
BENCHMARK(BM_SealOpen)->ArgsProduct({{64, 1400, 65535}, {0, 1}});

void BM_LayerOverMemory(benchmark::State& state) {
  auto [ta, tb] = MemoryTransport::CreatePair({.mtu = 1500 + kDataOverhead});
  struct OneLink : PeerLink {
    explicit OneLink(Transport* t) : t(t) {}
    absl::StatusOr<size_t> Send(const std::string&, absl::Span<const FrameView> f) override {
      return t->Send(MemoryTransport::kPeer, f);
    }
    absl::StatusOr<Received> Receive(FrameBatch& b) override {
      absl::StatusOr<Transport::Received> n = t->Receive(b);
      if (!n.ok()) return n.status();
      return Received{n->frames, "peer"};
    }
    std::vector<LinkPeer> peers() const override { return {{"peer", {}}}; }
    Transport* t;
  } la(ta.get()), lb(tb.get());
  PrivateKey a = PrivateKey::Generate(), b = PrivateKey::Generate();
  PublicKey pa = a.public_key(), pb = b.public_key();
  IdentityLayer x(
      *PeerCrypto::Create(std::move(a), {}, {.peers = {{pb, {*IpPrefix::Parse("0.0.0.0/0")}}}}),
      &la);
  IdentityLayer y(
      *PeerCrypto::Create(std::move(b), {}, {.peers = {{pa, {*IpPrefix::Parse("0.0.0.0/0")}}}}),
      &lb);
  std::vector<std::vector<uint8_t>> frames;
  std::vector<FrameView> views;
  for (int i = 0; i < 64; ++i)
    frames.push_back(PacketBuilder::TaggedUdp(Ip("192.0.2.1"), Ip("192.0.2.2"), i, 1400));
  for (auto& f : frames) views.push_back(f);
  FrameBatch batch(64, 2048);
  const std::string to = pb.ToBase64();
  // Handshake first.
  for (int i = 0; i < 4; ++i) {
    (void)x.Send(to, absl::MakeConstSpan(views.data(), 1));
    batch.Clear();
    (void)y.Receive(batch);
    batch.Clear();
    (void)x.Receive(batch);
  }
  size_t received = 0;
  for (auto _ : state) {
    (void)x.Send(to, views);
    batch.Clear();
    absl::StatusOr<PeerLink::Received> r = y.Receive(batch);
    received += r.ok() ? r->frames : 0;
  }
  state.SetBytesProcessed(state.iterations() * 64 * 1400);
  state.counters["delivered"] = static_cast<double>(received) / (state.iterations() * 64.0);
}
BENCHMARK(BM_LayerOverMemory);

}  // namespace
}  // namespace fstun
