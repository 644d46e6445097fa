// Micro-benchmark of the CRC-32C every transport puts on its records
// (core/crc32c.h): the path Crc32c takes on this CPU (SSE4.2 when it has
// it) and the portable slicing-by-8 path a CPU without it takes.
//
// Argument: bytes per call (a 1400 B frame, a 64 KiB super-packet).
// bytes/s is the checksum's throughput.
//   bazel run -c opt //bench:crc32c_benchmark
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/crc32c.h"

namespace fstun::bench {
namespace {

std::vector<uint8_t> Data(size_t size) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(i * 31 + 3);
  return v;
}

void BM_Crc32c(benchmark::State& state) {
  std::vector<uint8_t> data = Data(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(data.data(), data.size()));
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_Crc32c)->Arg(1400)->Arg(65536);

void BM_Crc32cPortable(benchmark::State& state) {
  std::vector<uint8_t> data = Data(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(Crc32cExtendPortable(0, data.data(), data.size()));
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK(BM_Crc32cPortable)->Arg(1400)->Arg(65536);

}  // namespace
}  // namespace fstun::bench
