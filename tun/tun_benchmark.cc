// How fast TunDevice moves packets through the kernel: batches of ICMP echo
// requests are written to a TUN and the kernel's replies read back, in a
// fresh network namespace (needs root).
//
//   bazel run -c opt //tun:tun_benchmark
//
// items_per_second counts round trips (one packet written + one read).
// BM_SegmentTcpSuperPacket needs no root: it measures vnet/gso.h alone.
#include <cstring>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "core/event_fd.h"
#include "core/frame.h"
#include "glog/logging.h"
#include "testing/netns.h"
#include "testing/packet_builder.h"
#include "tun/offload.h"
#include "tun/tun_device.h"
#include "vnet/gso.h"
#include "vnet/header.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

std::unique_ptr<TunDevice> MakeTun(bool vnet_hdr) {
  TunOptions options;
  options.name = vnet_hdr ? "benchv0" : "bench0";
  options.mtu = 1500;
  options.addresses = {*IpPrefix::Parse("192.0.2.1/24")};
  options.vnet_hdr = vnet_hdr;
  absl::StatusOr<std::unique_ptr<TunDevice>> tun = TunDevice::Create(options);
  CHECK(tun.ok()) << tun.status();
  return *std::move(tun);
}

// Args: {batch size, packet size in bytes, vnet_hdr}.
void BM_EchoRoundTrip(benchmark::State& state) {
  const size_t batch_size = state.range(0);
  const size_t packet_size = state.range(1);
  const bool vnet_hdr = state.range(2) != 0;
  std::unique_ptr<TunDevice> tun = MakeTun(vnet_hdr);
  std::vector<uint8_t> payload(packet_size - 28, 0xab);
  std::vector<uint8_t> request =
      PacketBuilder::IcmpEcho(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, 1, payload);
  if (vnet_hdr) request = WithEmptyVnetHeader(request);
  std::vector<FrameView> requests(batch_size, FrameView(request));
  FrameBatch replies(batch_size, kMaxFrameSize);

  size_t received = 0;
  for (auto _ : state) {
    absl::Status written = tun->Write(requests);
    if (!written.ok()) {
      state.SkipWithError(written.ToString().c_str());
      break;
    }
    size_t got = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    while (got < batch_size && absl::Now() < deadline) {
      replies.Clear();
      absl::StatusOr<size_t> n = tun->Read(replies);
      if (!n.ok()) {
        state.SkipWithError(n.status().ToString().c_str());
        return;
      }
      got += *n;
      if (*n == 0) WaitReadable(tun->fd(), absl::Milliseconds(10));
    }
    received += got;
  }
  CounterSnapshot c = tun->counters();
  state.SetItemsProcessed(static_cast<int64_t>(received));
  state.SetBytesProcessed(static_cast<int64_t>(received * packet_size));
  state.counters["lost"] = static_cast<double>(c.tx_frames - received);
  state.counters["drops"] = static_cast<double>(c.total_drops());
}
BENCHMARK(BM_EchoRoundTrip)
    ->ArgNames({"batch", "bytes", "vnet"})
    ->Args({1, 84, 0})
    ->Args({64, 84, 0})
    ->Args({64, 1400, 0})
    ->Args({64, 1400, 1})
    ->UseRealTime();

// Cutting one 64 KiB TCP super-packet into 1448-byte segments in userspace
// (vnet/gso.h), as a forwarder from an offloading TUN to a plain peer must.
// bytes_per_second counts the super-packet's bytes.
void BM_SegmentTcpSuperPacket(benchmark::State& state) {
  std::vector<uint8_t> data(64000, 0x5a);
  std::vector<uint8_t> super = WithEmptyVnetHeader(
      PacketBuilder::Tcp(Ip("192.0.2.1"), Ip("192.0.2.2"), 40000, 80, 1, 1, 0x18, data));
  super[0] = 1;  // NEEDS_CSUM
  super[1] = 1;  // TCPV4
  const uint16_t gso_size = 1448, csum_start = 20, csum_offset = 16;
  std::memcpy(&super[4], &gso_size, 2);
  std::memcpy(&super[6], &csum_start, 2);
  std::memcpy(&super[8], &csum_offset, 2);
  FrameBatch out(64, 2048);
  for (auto _ : state) {
    out.Clear();
    absl::StatusOr<size_t> n = SegmentVnetFrame(super, out);
    if (!n.ok()) {
      state.SkipWithError(n.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(out[0].data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * super.size()));
}
BENCHMARK(BM_SegmentTcpSuperPacket);

}  // namespace
}  // namespace fstun

int main(int argc, char** argv) {
  absl::StatusOr<std::unique_ptr<fstun::testing::ScopedNetns>> netns =
      fstun::testing::ScopedNetns::Enter();
  CHECK(netns.ok()) << netns.status();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
