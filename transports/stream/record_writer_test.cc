// RecordWriter: never blocks, never buffers more than its bound, and every
// record it accepted reaches the reader whole and in order.
#include "transports/stream/record_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "transports/stream/wire_format.h"

namespace fstun::stream {
namespace {

struct SocketPair {
  int w = -1, r = -1;
  SocketPair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    w = fds[0];
    r = fds[1];
    int small = 4096;
    setsockopt(w, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  }
  ~SocketPair() {
    close(w);
    close(r);
  }
};

std::vector<uint8_t> Payload(uint32_t tag, size_t size) {
  std::vector<uint8_t> p(size, static_cast<uint8_t>(tag * 7));
  std::memcpy(p.data(), &tag, 4);
  return p;
}

// Reads everything readable now and decodes it.
void Drain(int fd, RecordDecoder& d, std::vector<std::vector<uint8_t>>& out) {
  while (true) {
    absl::Span<uint8_t> room = d.WritableTail();
    ssize_t n = read(fd, room.data(), room.size());
    if (n <= 0) break;
    d.Commit(n);
    while (std::optional<Record> r = d.Next())
      out.emplace_back(r->payload.begin(), r->payload.end());
  }
}

TEST(RecordWriterTest, AcceptsWhatFitsAndDeliversItAllInOrder) {
  SocketPair s;
  RecordWriter writer(/*buffer_bytes=*/0);  // raised to the minimum
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 400; ++i) frames.push_back(Payload(i, 1000 + i));
  std::vector<OutRecord> records;
  for (const auto& f : frames) records.push_back({RecordType::kFrame, f, true});

  RecordWriter::Result r = writer.Write(s.w, records);
  ASSERT_TRUE(r.error.ok()) << r.error;
  EXPECT_GT(r.accepted, 0u);
  EXPECT_LT(r.accepted, frames.size()) << "400 KB cannot fit a 4 KB socket plus the buffer";
  EXPECT_LE(writer.pending_bytes(), writer.capacity());
  EXPECT_TRUE(writer.pending());

  // Offer the rest again whenever the reader made room, as the transport does.
  RecordDecoder d;
  std::vector<std::vector<uint8_t>> got;
  size_t accepted = r.accepted;
  for (int round = 0; round < 10000 && (accepted < frames.size() || writer.pending()); ++round) {
    Drain(s.r, d, got);
    ASSERT_TRUE(writer.Flush(s.w).ok());
    if (accepted < frames.size()) {
      r = writer.Write(s.w, absl::MakeConstSpan(records).subspan(accepted));
      ASSERT_TRUE(r.error.ok());
      accepted += r.accepted;
    }
  }
  Drain(s.r, d, got);
  ASSERT_EQ(got.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(got[i], frames[i]) << i;
  EXPECT_EQ(d.stats().garbage_bytes, 0u);
  EXPECT_EQ(writer.Reset(), 0u);
}

TEST(RecordWriterTest, ResetCountsFramesNotFullyWrittenButNotControlRecords) {
  SocketPair s;
  RecordWriter writer(0);
  std::vector<uint8_t> f(30000, 1);
  std::vector<OutRecord> records = {{RecordType::kHello, f, false}};
  for (int i = 0; i < 20; ++i) records.push_back({RecordType::kFrame, f, true});
  RecordWriter::Result r = writer.Write(s.w, records);
  ASSERT_TRUE(r.error.ok());
  ASSERT_GT(r.accepted, 1u);
  ASSERT_TRUE(writer.pending());
  size_t lost = writer.Reset();
  EXPECT_GT(lost, 0u);
  EXPECT_LT(lost, r.accepted);
  EXPECT_FALSE(writer.pending());
}

TEST(RecordWriterTest, ClosedPeerIsAnError) {
  signal(SIGPIPE, SIG_IGN);  // as the daemon does
  SocketPair s;
  close(s.r);
  s.r = open("/dev/null", O_RDONLY);
  RecordWriter writer(0);
  std::vector<uint8_t> f(100, 1);
  std::vector<OutRecord> records = {{RecordType::kFrame, f, true}};
  RecordWriter::Result r = writer.Write(s.w, records);
  EXPECT_FALSE(r.error.ok());
  EXPECT_EQ(r.accepted, 0u);
}

}  // namespace
}  // namespace fstun::stream

namespace fstun::stream {
namespace {

TEST(RecordWriterTest, BufferFloorIsTwoRecordsOfTheLargestPayload) {
  EXPECT_EQ(RecordWriter(0, 1400).capacity(), 2 * (kHeaderSize + 1400));
  EXPECT_EQ(RecordWriter(0).capacity(), 2 * (kHeaderSize + kMaxRecordPayload));
  EXPECT_EQ(RecordWriter(1 << 20, 1400).capacity(), 1u << 20);
}

}  // namespace
}  // namespace fstun::stream
