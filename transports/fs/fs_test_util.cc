#include "transports/fs/fs_test_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/event_fd.h"
#include "gtest/gtest.h"
#include "testing/packet_builder.h"

namespace fstun::fs::testing {

TempFolder::TempFolder() {
  static int counter = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  path_ = absl::StrCat(base ? base : "/tmp", "/fs-", getpid(), "-", counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempFolder::~TempFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

FsTransportOptions TestOptions(const std::string& dir, const std::string& address,
                               const std::string& role) {
  FsTransportOptions o;
  o.dirpath = dir;
  o.addresses = {*IpPrefix::Parse(address)};
  o.role = role;
  o.mtu = 1400;
  o.heartbeat = absl::Milliseconds(50);
  o.gc_interval = absl::Milliseconds(100);
  o.gap_wait = absl::Milliseconds(200);
  o.bad_file_wait = absl::Milliseconds(200);
  o.peer_timeout = absl::Seconds(5);
  return o;
}

std::unique_ptr<FsTransport> MakePeer(const FsTransportOptions& options) {
  absl::StatusOr<std::unique_ptr<FsTransport>> t = FsTransport::Create(options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::vector<uint8_t> Frame(const std::string& src, const std::string& dst, uint32_t tag,
                           size_t size) {
  return fstun::testing::PacketBuilder::TaggedUdp(fstun::testing::Ip(src), fstun::testing::Ip(dst),
                                                  tag, size);
}

void SendAll(Transport& t, const std::vector<std::vector<uint8_t>>& frames, bool batch) {
  std::vector<FrameView> views(frames.begin(), frames.end());
  if (batch) {
    EXPECT_TRUE(t.Send(views).ok());
  } else {
    for (FrameView v : views) EXPECT_TRUE(t.Send({v}).ok());
  }
}

std::vector<std::vector<uint8_t>> ReceiveN(Transport& t, size_t count, absl::Duration timeout,
                                           std::vector<Transport*> others) {
  std::vector<std::vector<uint8_t>> out;
  FrameBatch batch(64, kMaxFrameSize);
  FrameBatch ignored(64, kMaxFrameSize);
  absl::Time deadline = absl::Now() + timeout;
  while (out.size() < count && absl::Now() < deadline) {
    batch.Clear();
    absl::StatusOr<size_t> n = t.Receive(batch);
    if (!n.ok()) {
      ADD_FAILURE() << n.status();
      break;
    }
    for (FrameView f : batch.frames()) out.emplace_back(f.begin(), f.end());
    for (Transport* o : others) {
      ignored.Clear();
      (void)o->Receive(ignored);
    }
    if (*n == 0) {
      WaitReadable(t.readiness_fd(), std::min(t.poll_interval(), absl::Milliseconds(10)));
    }
  }
  return out;
}

void RunFor(std::vector<Transport*> ts, absl::Duration d) {
  FrameBatch batch(64, kMaxFrameSize);
  absl::Time deadline = absl::Now() + d;
  while (absl::Now() < deadline) {
    for (Transport* t : ts) {
      batch.Clear();
      (void)t->Receive(batch);
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

std::vector<int64_t> Tags(const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<int64_t> tags;
  for (const auto& f : frames) tags.push_back(fstun::testing::PacketBuilder::TagOf(f));
  return tags;
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> RecordsIn(const std::string& dir) {
  std::vector<std::string> names;
  for (std::string& n : FilesIn(dir)) {
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".rec") == 0) names.push_back(std::move(n));
  }
  return names;
}

size_t BytesIn(const std::string& dir) {
  size_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace fstun::fs::testing
