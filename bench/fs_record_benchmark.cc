// Micro-benchmarks of the fs transport's record format and of one file's
// life in a folder, the two costs every batch of frames pays on the fs path.
//
// BM_RecordEncode: RecordEncoder::Encode (header, length table, CRC-32C over
//   every byte); frames are not copied.
// BM_RecordParse: ParseRecord of a whole file image (validation + CRC).
// BM_RecordFileCycle: what one record costs on a folder: create a temp
//   file, writev the record, rename it to its final name, open it by name,
//   read it whole, parse it, unlink it. The folder is $FSTUN_BENCH_DIR, else
//   $TEST_TMPDIR, else /dev/shm (tmpfs).
//
// Arguments: frames per record, frame size. items/s is frames/s.
//   bazel run -c opt //bench:fs_record_benchmark
//   FSTUN_BENCH_DIR=/var/tmp bazel run -c opt //bench:fs_record_benchmark  # a disk
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "testing/packet_builder.h"
#include "transports/fs/record.h"

namespace fstun::bench {
namespace {

constexpr char kSender[] = "192-0-2-1-24";

struct Frames {
  explicit Frames(size_t count, size_t size) {
    packet = fstun::testing::PacketBuilder::TaggedUdp(fstun::testing::Ip("192.0.2.1"),
                                                      fstun::testing::Ip("192.0.2.2"), 7, size);
    views.assign(count, FrameView(packet));
  }
  std::vector<uint8_t> packet;
  std::vector<FrameView> views;
};

std::vector<uint8_t> Flatten(absl::Span<const iovec> iov) {
  std::vector<uint8_t> image;
  for (const iovec& v : iov) {
    const uint8_t* p = static_cast<const uint8_t*>(v.iov_base);
    image.insert(image.end(), p, p + v.iov_len);
  }
  return image;
}

void Report(benchmark::State& state, const Frames& frames) {
  state.SetItemsProcessed(state.iterations() * frames.views.size());
  state.SetBytesProcessed(state.iterations() * frames.views.size() * frames.packet.size());
}

void BM_RecordEncode(benchmark::State& state) {
  Frames frames(state.range(0), state.range(1));
  fs::RecordEncoder encoder;
  uint64_t seq = 0;
  for (auto _ : state) {
    absl::Span<const iovec> iov = encoder.Encode(kSender, 1, ++seq, frames.views);
    benchmark::DoNotOptimize(iov.data());
  }
  Report(state, frames);
}

void BM_RecordParse(benchmark::State& state) {
  Frames frames(state.range(0), state.range(1));
  fs::RecordEncoder encoder;
  std::vector<uint8_t> image = Flatten(encoder.Encode(kSender, 1, 1, frames.views));
  fs::ParsedRecord parsed;
  for (auto _ : state) {
    fs::RecordError e = fs::ParseRecord(image, kMaxFrameSize, parsed);
    if (e != fs::RecordError::kOk) {
      state.SkipWithError(fs::RecordErrorName(e));
      break;
    }
    benchmark::DoNotOptimize(parsed.frames.data());
  }
  Report(state, frames);
}

std::string BenchDir() {
  for (const char* var : {"FSTUN_BENCH_DIR", "TEST_TMPDIR"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return v;
  }
  return "/dev/shm";
}

void BM_RecordFileCycle(benchmark::State& state) {
  Frames frames(state.range(0), state.range(1));
  fs::RecordEncoder encoder;
  std::string dir = BenchDir() + "/fstun-bench-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::string temp = dir + "/.rec.tmp";
  const std::string final_name = dir + "/next.rec";
  std::vector<uint8_t> buffer(fs::kMaxRecordBytes);
  fs::ParsedRecord parsed;
  uint64_t seq = 0;
  for (auto _ : state) {
    absl::Span<const iovec> iov = encoder.Encode(kSender, 1, ++seq, frames.views);
    int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && writev(fd, iov.data(), iov.size()) == static_cast<ssize_t>(encoder.size());
    if (fd >= 0) close(fd);
    ok = ok && rename(temp.c_str(), final_name.c_str()) == 0;
    fd = ok ? open(final_name.c_str(), O_RDONLY | O_CLOEXEC) : -1;
    ssize_t n = fd >= 0 ? read(fd, buffer.data(), buffer.size()) : -1;
    if (fd >= 0) close(fd);
    ok = ok && n == static_cast<ssize_t>(encoder.size()) &&
         fs::ParseRecord(absl::MakeConstSpan(buffer.data(), n), kMaxFrameSize, parsed) ==
             fs::RecordError::kOk &&
         unlink(final_name.c_str()) == 0;
    if (!ok) {
      state.SkipWithError("file cycle failed");
      break;
    }
  }
  unlink(temp.c_str());
  unlink(final_name.c_str());
  rmdir(dir.c_str());
  Report(state, frames);
  state.SetLabel(dir.substr(0, dir.rfind('/')));
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->Args({1, 64})->Args({1, 1400})->Args({64, 1400})->Args({1, 65535})->Args({16, 65535});
}

BENCHMARK(BM_RecordEncode)->Apply(Sizes);
BENCHMARK(BM_RecordParse)->Apply(Sizes);
BENCHMARK(BM_RecordFileCycle)->Apply(Sizes);

}  // namespace
}  // namespace fstun::bench
