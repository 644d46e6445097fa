// Cost of the fs transport's file path, without wake-up latency: two
// FsTransport instances in one thread over one folder (default: a fresh
// directory in /dev/shm, tmpfs; FS_BENCH_DIR=... for another filesystem).
//
//   bazel run -c opt //transports/fs:fs_transport_benchmark
//
// BM_Batch/N: Send N frames of 1400 bytes (one record file) and Receive
// them: per-record syscalls amortised over N frames.
// BM_RoundTrip: one frame a->b, one frame b->a (a ping's file work).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/routing_table.h"
#include "testing/packet_builder.h"
#include "transports/fs/fs_transport.h"

namespace fstun::fs {
namespace {

struct Pair {
  std::string dir;
  std::unique_ptr<FsTransport> a, b;
  Pair() {
    const char* base = std::getenv("FS_BENCH_DIR");
    dir = absl::StrCat(base ? base : "/dev/shm", "/fs-bench-", getpid());
    std::filesystem::create_directories(dir);
    FsTransportOptions o;
    o.dirpath = dir;
    o.mtu = 1500;
    o.use_inotify = false;  // no events to drain: measure the file path only
    FsTransportOptions ao = o, bo = o;
    ao.addresses = {*IpPrefix::Parse("192.0.2.2/24")};
    bo.addresses = {*IpPrefix::Parse("192.0.2.1/24")};
    a = *FsTransport::Create(ao);
    b = *FsTransport::Create(bo);
    a->SetPeerObserver(&a_table);
    b->SetPeerObserver(&b_table);
    // Each learns of the other (a scan is due 100 ms after one found nobody).
    FrameBatch ignored(1, 64);
    while (!a_table.Find(b->peer_id()) || !b_table.Find(a->peer_id())) {
      (void)a->Receive(ignored);
      (void)b->Receive(ignored);
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  RoutingTable a_table, b_table;
  ~Pair() {
    a.reset();
    b.reset();
    std::filesystem::remove_all(dir);
  }
};

size_t Drain(Transport& t, FrameBatch& batch, size_t want) {
  size_t got = 0;
  while (got < want) {
    batch.Clear();
    got += t.Receive(batch)->frames;
  }
  return got;
}

void BM_Batch(benchmark::State& state) {
  Pair p;
  const size_t n = state.range(0);
  std::vector<std::vector<uint8_t>> frames;
  for (size_t i = 0; i < n; ++i) {
    frames.push_back(testing::PacketBuilder::TaggedUdp(testing::Ip("192.0.2.2"),
                                                       testing::Ip("192.0.2.1"), i, 1400));
  }
  std::vector<FrameView> views(frames.begin(), frames.end());
  FrameBatch batch(64, kMaxFrameSize);
  for (auto _ : state) {
    (void)p.a->Send(p.b->peer_id(), views);
    Drain(*p.b, batch, n);
  }
  state.SetBytesProcessed(state.iterations() * n * 1400);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["Gbit/s"] =
      benchmark::Counter(state.iterations() * n * 1400 * 8.0 / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Batch)->Arg(1)->Arg(8)->Arg(64);

void BM_RoundTrip(benchmark::State& state) {
  Pair p;
  FrameBatch batch(64, kMaxFrameSize);
  auto ab =
      testing::PacketBuilder::TaggedUdp(testing::Ip("192.0.2.2"), testing::Ip("192.0.2.1"), 1, 84);
  auto ba =
      testing::PacketBuilder::TaggedUdp(testing::Ip("192.0.2.1"), testing::Ip("192.0.2.2"), 2, 84);
  for (auto _ : state) {
    (void)p.a->Send(p.b->peer_id(), {FrameView(ab)});
    Drain(*p.b, batch, 1);
    (void)p.b->Send(p.a->peer_id(), {FrameView(ba)});
    Drain(*p.a, batch, 1);
  }
}
BENCHMARK(BM_RoundTrip);

}  // namespace
}  // namespace fstun::fs

BENCHMARK_MAIN();
