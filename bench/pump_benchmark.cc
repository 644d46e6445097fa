// Micro-benchmarks of the pump: frames/s through the core with the cheapest
// transports, at 64-byte, 1400-byte and 64 KiB frames.
//
// BM_PumpLoopback: one pump, one thread: FlowDevice -> loopback -> the same
//   FlowDevice. The cost of the pump loop, the batches and a frame copy in
//   and out of the transport's queue.
// BM_PumpMemory: two pumps in two threads joined by the memory transport,
//   as in the memory_bridge row of tools/bench (without the TUNs): adds the
//   cross-thread hand-off (queue lock, eventfd wake-ups).
//
// One iteration moves a fixed number of frames; items/s is frames/s.
//   bazel run -c opt //bench:pump_benchmark
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "bench/flow_device.h"
#include "benchmark/benchmark.h"
#include "core/pump.h"
#include "testing/packet_builder.h"
#include "transports/loopback/loopback_transport.h"
#include "transports/memory/memory_transport.h"

namespace fstun::bench {
namespace {

constexpr size_t kLargestPacket = 65535;  // an IPv4 packet cannot be larger

std::vector<uint8_t> MakePacket(size_t size) {
  return fstun::testing::PacketBuilder::TaggedUdp(fstun::testing::Ip("192.0.2.1"),
                                                  fstun::testing::Ip("192.0.2.2"), 1,
                                                  std::min(size, kLargestPacket));
}

// Frames in flight: at most 8 MiB and 1024 frames, well inside the
// transports' queue bounds (4096 frames, 16 MiB), so nothing is dropped.
uint64_t Window(size_t size) { return std::clamp<uint64_t>((8u << 20) / size, 64, 1024); }

// Frames per iteration: about 64 MiB of large frames, 64 Ki small ones.
uint64_t FramesPerIteration(size_t size) {
  return std::clamp<uint64_t>((64u << 20) / size, 1024, 65536);
}

void Report(benchmark::State& state, size_t packet_size, uint64_t frames) {
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.SetBytesProcessed(static_cast<int64_t>(frames * packet_size));
  state.SetLabel(std::to_string(packet_size) + " B frames");
}

void BM_PumpLoopback(benchmark::State& state) {
  const std::vector<uint8_t> packet = MakePacket(state.range(0));
  const uint64_t per_iteration = FramesPerIteration(packet.size());
  LoopbackTransportOptions options;
  options.mtu = kLargestPacket;
  uint64_t frames = 0;
  for (auto _ : state) {
    state.PauseTiming();
    FlowControl flow(Window(packet.size()));
    FlowDevice device(packet, &flow);
    LoopbackTransport transport(options);
    Pump pump(device, transport);
    device.StopAfter(per_iteration, [&pump] { pump.Stop(); });
    state.ResumeTiming();

    absl::Status status = pump.Run();
    if (!status.ok() || transport.counters().total_drops() != 0) {
      state.SkipWithError(status.ok() ? "the transport dropped frames" : "pump failed");
      break;
    }
    frames += device.written();
  }
  Report(state, packet.size(), frames);
}

void BM_PumpMemory(benchmark::State& state) {
  const std::vector<uint8_t> packet = MakePacket(state.range(0));
  const uint64_t per_iteration = FramesPerIteration(packet.size());
  MemoryTransportOptions options;
  options.mtu = kLargestPacket;
  uint64_t frames = 0;
  for (auto _ : state) {
    state.PauseTiming();
    FlowControl flow(Window(packet.size()));
    FlowDevice source(packet, &flow);
    FlowDevice sink({}, &flow);
    auto [end_a, end_b] = MemoryTransport::CreatePair(options);
    Pump pump_a(source, *end_a);
    Pump pump_b(sink, *end_b);
    sink.StopAfter(per_iteration, [&] {
      pump_a.Stop();
      pump_b.Stop();
    });
    absl::Status status_b;
    std::thread thread_b([&] { status_b = pump_b.Run(); });
    state.ResumeTiming();

    absl::Status status_a = pump_a.Run();
    thread_b.join();
    if (!status_a.ok() || !status_b.ok() || end_a->counters().total_drops() != 0) {
      state.SkipWithError(status_a.ok() && status_b.ok() ? "the transport dropped frames"
                                                         : "pump failed");
      break;
    }
    frames += sink.written();
  }
  Report(state, packet.size(), frames);
}

BENCHMARK(BM_PumpLoopback)->Arg(64)->Arg(1400)->Arg(65536)->UseRealTime();
BENCHMARK(BM_PumpMemory)->Arg(64)->Arg(1400)->Arg(65536)->UseRealTime();

}  // namespace
}  // namespace fstun::bench
