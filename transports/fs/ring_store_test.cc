// The ring store (--fs_store=ring, docs/fs-transport.md section 14): what
// the conformance suite does not show. Both ends offering it use one ring
// file per stream and no record files; one end without it falls back to
// files; bytes in the ring that are not the awaited record (a torn write)
// are never delivered and the record is delivered once it is whole; a
// slow reader makes the writer wrap around many times without loss, and a
// full ring drops (counted) instead of overwriting; either end's restart
// starts a new ring and traffic flows; a reader that was given up on
// (its records' space given back) reads on when it is back.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transports/fs/fs_test_util.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"
#include "transports/fs/ring_file.h"

namespace fstun::fs {
namespace {

using ::testing::IsEmpty;
using namespace fstun::fs::testing;  // NOLINT

constexpr absl::Duration kTimeout = absl::Seconds(10);

std::vector<std::vector<uint8_t>> Frames(uint32_t first_tag, size_t count, size_t size = 200) {
  std::vector<std::vector<uint8_t>> v;
  for (size_t i = 0; i < count; ++i)
    v.push_back(Frame("192.0.2.2", "192.0.2.1", first_tag + i, size));
  return v;
}

std::vector<int64_t> Range(int64_t first, size_t count) {
  std::vector<int64_t> v;
  for (size_t i = 0; i < count; ++i) v.push_back(first + i);
  return v;
}

FsTransportOptions RingOptions(const std::string& dir, const std::string& address,
                               bool ring = true) {
  FsTransportOptions o = TestOptions(dir, address);
  o.ring_store = ring;
  return o;
}

std::vector<std::string> WithSuffix(const std::string& dir, const char* suffix) {
  std::vector<std::string> out;
  for (const std::string& f : FilesIn(dir)) {
    if (absl::EndsWith(f, suffix)) out.push_back(f);
  }
  return out;
}

// The "store" detail of the transport's only peer (fstun status).
std::string StoreOf(const FsTransport& t) {
  std::vector<PeerStatus> peers = t.peers();
  if (peers.size() != 1) return "?";
  for (const auto& [key, value] : peers[0].details) {
    if (key == "store") return value;
  }
  return "";
}

std::string RingPath(const TempFolder& folder, const FsTransport& a, const FsTransport& b) {
  std::string prefix = StreamPrefix(a.peer_id(), a.session(), b.session());
  return folder.inbox(b.peer_id()) + "/" + prefix.substr(0, prefix.size() - 1) + kRingSuffix;
}

// The offset of record `seq` in the ring file at `path` (records start at
// multiples of kRingAlign), or 0.
uint64_t FindRecord(const std::string& path, uint64_t seq) {
  std::vector<char> bytes(1 << 20);  // the first records are near the start
  int fd = open(path.c_str(), O_RDONLY);
  ssize_t n = fd >= 0 ? pread(fd, bytes.data(), bytes.size(), 0) : -1;
  if (fd >= 0) close(fd);
  bytes.resize(n > 0 ? static_cast<size_t>(n) : 0);
  for (size_t at = kRingHeaderBytes; at + kRecordFixedHeader <= bytes.size(); at += kRingAlign) {
    uint32_t magic;
    uint64_t s;
    std::memcpy(&magic, &bytes[at], 4);
    std::memcpy(&s, &bytes[at + 16], 8);
    if (magic == kRecordMagic && s == seq) return at;
  }
  return 0;
}

void Poke(const std::string& path, uint64_t offset, uint8_t value) {
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, &value, 1, static_cast<off_t>(offset)), 1);
  close(fd);
}

uint8_t Peek(const std::string& path, uint64_t offset) {
  int fd = open(path.c_str(), O_RDONLY);
  uint8_t v = 0;
  EXPECT_EQ(pread(fd, &v, 1, static_cast<off_t>(offset)), 1);
  close(fd);
  return v;
}

TEST(RingStoreTest, BothEndsOfferingItUseOneRingFileAndNoRecordFiles) {
  TempFolder folder;
  auto a = MakePeer(RingOptions(folder.path(), "192.0.2.2/24"));
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  SendAll(*a, Frames(0, 50), /*batch=*/false);
  EXPECT_EQ(Tags(ReceiveN(*b, 50, kTimeout, {a.get()})), Range(0, 50));
  const std::string inbox = folder.inbox(b->peer_id());
  EXPECT_THAT(RecordsIn(inbox), IsEmpty());
  EXPECT_EQ(WithSuffix(inbox, kRingSuffix).size(), 1u);
  EXPECT_EQ(WithSuffix(inbox, kAckSuffix).size(), 1u);
  // The ack tells the writer: its backlog is empty again.
  RunFor({a.get(), b.get()}, absl::Milliseconds(100));
  ASSERT_EQ(a->peers().size(), 1u);
  EXPECT_EQ(a->peers()[0].backlog_bytes, 0u);
  EXPECT_EQ(StoreOf(*a), "ring") << "fstun status says so";
  EXPECT_EQ(a->counters().drops_for("backlog_full"), 0u);
}

TEST(RingStoreTest, APeerWithoutItGetsRecordFiles) {
  TempFolder folder;
  auto a = MakePeer(RingOptions(folder.path(), "192.0.2.2/24"));
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24", /*ring=*/false));
  SendAll(*a, Frames(0, 5), /*batch=*/false);
  EXPECT_EQ(Tags(ReceiveN(*b, 5, kTimeout, {a.get()})), Range(0, 5));
  EXPECT_THAT(WithSuffix(folder.inbox(b->peer_id()), kRingSuffix), IsEmpty());
  EXPECT_EQ(StoreOf(*a), "names");
}

TEST(RingStoreTest, TornRecordIsNotDeliveredUntilItIsWhole) {
  TempFolder folder;
  auto a = MakePeer(RingOptions(folder.path(), "192.0.2.2/24"));
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  SendAll(*a, Frames(0, 1));
  ASSERT_EQ(Tags(ReceiveN(*b, 1, kTimeout, {a.get()})), Range(0, 1));
  SendAll(*a, Frames(1, 1));  // record 2, not read yet
  const std::string ring = RingPath(folder, *a, *b);
  const uint64_t at = FindRecord(ring, 2);
  ASSERT_NE(at, 0u);
  // A byte of the frame as another share might show it before the rest
  // of the write: the CRC fails, so it is "not there yet".
  const uint64_t byte = at + 100;
  const uint8_t good = Peek(ring, byte);
  Poke(ring, byte, good ^ 0xff);
  EXPECT_THAT(ReceiveN(*b, 1, absl::Milliseconds(150), {a.get()}), IsEmpty());
  Poke(ring, byte, good);
  EXPECT_EQ(Tags(ReceiveN(*b, 1, kTimeout, {a.get()})), Range(1, 1));
  EXPECT_EQ(b->counters().drops_for("bad_checksum"), 0u) << "a torn write is not junk";
  SendAll(*a, Frames(2, 1));
  EXPECT_EQ(Tags(ReceiveN(*b, 1, kTimeout, {a.get()})), Range(2, 1));
}

TEST(RingStoreTest, RecordSpoiledInPlaceStallsTheStreamOnlyUntilTheWriterResyncs) {
  TempFolder folder;
  FsTransportOptions ao = RingOptions(folder.path(), "192.0.2.2/24");
  ao.max_backlog_bytes = 64 << 10;
  ao.max_file_bytes = 8 << 10;
  auto a = MakePeer(ao);  // gap wait 200 ms: gives up after 1 s of a full, unmoving ring
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  SendAll(*a, Frames(0, 1));
  ASSERT_EQ(Tags(ReceiveN(*b, 1, kTimeout, {a.get()})), Range(0, 1));
  SendAll(*a, Frames(1, 1));  // record 2, spoiled for good before b reads it
  const std::string ring = RingPath(folder, *a, *b);
  const uint64_t at = FindRecord(ring, 2);
  ASSERT_NE(at, 0u);
  Poke(ring, at + 100, Peek(ring, at + 100) ^ 0xff);
  // b cannot pass it; a fills the ring and drops, then gives the unread
  // records up once the ack has not moved for 5 gap waits.
  const absl::Time start = absl::Now();
  uint32_t tag = 100;
  std::vector<std::vector<uint8_t>> got;
  while (got.empty() && absl::Now() - start < kTimeout) {
    SendAll(*a, Frames(tag++, 1, 1000));
    for (auto& f : ReceiveN(*b, 1, absl::Milliseconds(50), {a.get()})) got.push_back(f);
  }
  ASSERT_FALSE(got.empty()) << "the stream never recovered";
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_GT(a->counters().drops_for("ring_stalled"), 0u);
  EXPECT_GT(b->counters().drops_for("gap"), 0u);
  const int64_t first = Tags(got)[0];
  EXPECT_GT(first, 100);
  SendAll(*a, Frames(5000, 3), /*batch=*/false);
  std::vector<int64_t> tags = Tags(ReceiveN(*b, 100, absl::Milliseconds(500), {a.get()}));
  ASSERT_GE(tags.size(), 3u);
  EXPECT_EQ(std::vector<int64_t>(tags.end() - 3, tags.end()), Range(5000, 3))
      << "in order after the resync";
}

TEST(RingStoreTest, SlowReaderMakesTheWriterWrapWithoutLossAndAFullRingDrops) {
  TempFolder folder;
  FsTransportOptions ao = RingOptions(folder.path(), "192.0.2.2/24");
  ao.max_backlog_bytes = 64 << 10;
  ao.max_file_bytes = 8 << 10;
  auto a = MakePeer(ao);
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  // 400 records of 1000 bytes (4 KiB each in the ring) through a 64 KiB
  // ring: it wraps ~25 times; the reader takes 10 at a time.
  uint32_t tag = 0;
  for (int round = 0; round < 40; ++round) {
    SendAll(*a, Frames(tag, 10, 1000), /*batch=*/false);
    ASSERT_EQ(Tags(ReceiveN(*b, 10, kTimeout, {a.get()})), Range(tag, 10)) << round;
    tag += 10;
  }
  EXPECT_EQ(a->counters().drops_for("backlog_full"), 0u);
  // The reader stops: the writer fills the ring and drops, counted; what
  // was written arrives in order, and the ring takes traffic again.
  SendAll(*a, Frames(1000, 100, 1000), /*batch=*/false);
  CounterSnapshot c = a->counters();
  const size_t written = c.tx_frames - 400;
  EXPECT_GT(c.drops_for("backlog_full"), 0u);
  EXPECT_EQ(written + c.drops_for("backlog_full"), 100u);
  EXPECT_EQ(Tags(ReceiveN(*b, written, kTimeout, {a.get()})), Range(1000, written));
  RunFor({a.get(), b.get()}, absl::Milliseconds(100));
  SendAll(*a, Frames(2000, 5, 1000), /*batch=*/false);
  EXPECT_EQ(Tags(ReceiveN(*b, 5, kTimeout, {a.get()})), Range(2000, 5));
}

TEST(RingStoreTest, RestartOfEitherEndStartsANewRingAndTrafficFlows) {
  TempFolder folder;
  auto a = MakePeer(RingOptions(folder.path(), "192.0.2.2/24"));
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  SendAll(*a, Frames(0, 3));
  ASSERT_EQ(Tags(ReceiveN(*b, 3, kTimeout, {a.get()})), Range(0, 3));
  // The receiver restarts (new session, empty inbox).
  b.reset();
  b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  RunFor({a.get(), b.get()}, absl::Milliseconds(150));
  SendAll(*a, Frames(10, 3));
  EXPECT_EQ(Tags(ReceiveN(*b, 3, kTimeout, {a.get()})), Range(10, 3));
  // The sender restarts; the old stream's ring is collected.
  a.reset();
  a = MakePeer(RingOptions(folder.path(), "192.0.2.2/24"));
  RunFor({a.get(), b.get()}, absl::Milliseconds(150));
  SendAll(*a, Frames(20, 3));
  EXPECT_EQ(Tags(ReceiveN(*b, 3, kTimeout, {a.get()})), Range(20, 3));
  RunFor({a.get(), b.get()}, absl::Milliseconds(250));
  EXPECT_EQ(WithSuffix(folder.inbox(b->peer_id()), kRingSuffix).size(), 1u)
      << "only the current stream's ring is left";
}

TEST(RingStoreTest, ReaderGivenUpOnReadsOnWhenItIsBack) {
  TempFolder folder;
  FsTransportOptions ao = RingOptions(folder.path(), "192.0.2.2/24");
  ao.peer_timeout = absl::Milliseconds(300);
  auto a = MakePeer(ao);
  FsTransportOptions bo = RingOptions(folder.path(), "192.0.2.1/24");
  auto b = MakePeer(bo);
  SendAll(*a, Frames(0, 1));
  ASSERT_EQ(Tags(ReceiveN(*b, 1, kTimeout, {a.get()})), Range(0, 1));
  SendAll(*a, Frames(1, 3), /*batch=*/false);  // records 2..4, never read
  // b is silent for longer than a's peer timeout: a gives its records up
  // (peer_gone) and may overwrite them.
  RunFor({a.get()}, absl::Milliseconds(500));
  EXPECT_EQ(a->counters().drops_for("peer_gone"), 3u);
  // Their space went back to the disk (as record files are removed):
  // nothing of them is left to read.
  const std::string ring = RingPath(folder, *a, *b);
  struct stat st;
  ASSERT_EQ(stat(ring.c_str(), &st), 0);
  EXPECT_LE(st.st_blocks * 512, 2 * static_cast<int64_t>(kRingHeaderBytes));
  // b is back: a sees b live again and writes on (behind a resync point in
  // the header), and b follows.
  RunFor({a.get(), b.get()}, absl::Milliseconds(150));
  SendAll(*a, Frames(100, 2));
  EXPECT_EQ(Tags(ReceiveN(*b, 2, kTimeout, {a.get()})), Range(100, 2));
  SendAll(*a, Frames(200, 1));
  EXPECT_EQ(Tags(ReceiveN(*b, 1, kTimeout, {a.get()})), Range(200, 1));
}

TEST(RingStoreTest, APeerThatStopsCleanlyLeavesNoFileAndCostsNoDrop) {
  TempFolder folder;
  auto a = MakePeer(RingOptions(folder.path(), "192.0.2.2/24"));
  auto b = MakePeer(RingOptions(folder.path(), "192.0.2.1/24"));
  SendAll(*a, Frames(0, 5));
  ASSERT_EQ(Tags(ReceiveN(*b, 5, kTimeout, {a.get()})), Range(0, 5));
  RunFor({a.get(), b.get()}, absl::Milliseconds(100));  // every record read
  a.reset();  // a clean stop: a removes its ring; b's ack of it is b's to tidy
  RunFor({b.get()}, absl::Milliseconds(400));  // scans and collections
  EXPECT_TRUE(b->peers().empty());
  const std::string inbox = folder.inbox(b->peer_id());
  EXPECT_THAT(WithSuffix(inbox, kRingSuffix), IsEmpty());
  EXPECT_THAT(WithSuffix(inbox, kAckSuffix), IsEmpty());
  EXPECT_EQ(b->counters().total_drops(), 0u) << "nothing sent was lost";
}

}  // namespace
}  // namespace fstun::fs
