#include "transports/fs/fs_test_util.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/event_fd.h"
#include "gtest/gtest.h"
#include "testing/packet_builder.h"
#include "transports/fs/record.h"

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
  if (!t.ok()) return nullptr;
  TableOf(**t, options.role == "client", /*fresh=*/true);
  return *std::move(t);
}

RoutingTable& TableOf(Transport& t, bool client, bool fresh) {
  static absl::Mutex mu;
  // By address and, for an fs transport, its session: a transport made
  // where an earlier one lived (not through MakePeer) must not find the
  // earlier one's table, which it never reports to.
  using Key = std::pair<const Transport*, uint64_t>;
  static auto* tables = new std::map<Key, std::unique_ptr<RoutingTable>>();
  const auto* fs = dynamic_cast<const FsTransport*>(&t);
  const Key key{&t, fs != nullptr ? fs->session() : 0};
  absl::MutexLock lock(&mu);
  std::unique_ptr<RoutingTable>& table = (*tables)[key];
  if (table == nullptr || fresh) {
    table = std::make_unique<RoutingTable>(RoutingTable::Options{client});
    t.SetPeerObserver(table.get());
  }
  return *table;
}

void Housekeep(Transport& t) {
  // A full batch: Receive does its periodic work (peer scan, heartbeat)
  // but delivers nothing, so no frame is taken from the test.
  static const uint8_t kByte = 0;
  FrameBatch full(1, 64);
  full.Append(FrameView(&kByte, 1));
  (void)t.Receive(full);
}

bool WaitForPeer(Transport& t, const std::string& id) {
  for (absl::Time deadline = absl::Now() + absl::Seconds(2); absl::Now() < deadline;) {
    if (TableOf(t).Find(id).has_value()) return true;
    Housekeep(t);
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

std::vector<uint8_t> RecordImage(const FsTransport& sender, uint64_t seq,
                                 const std::vector<uint8_t>& frame) {
  RecordEncoder enc;
  FrameView v(frame);
  std::vector<uint8_t> out;
  for (const iovec& io : enc.Encode(sender.peer_id(), sender.session(), seq, {&v, 1})) {
    const uint8_t* p = static_cast<const uint8_t*>(io.iov_base);
    out.insert(out.end(), p, p + io.iov_len);
  }
  return out;
}

void WriteFile(const std::string& path, absl::Span<const uint8_t> bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void WriteFile(const std::string& path, absl::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), bytes.size());
}

std::vector<uint8_t> Frame(const std::string& src, const std::string& dst, uint32_t tag,
                           size_t size) {
  return fstun::testing::PacketBuilder::TaggedUdp(fstun::testing::Ip(src), fstun::testing::Ip(dst),
                                                  tag, size);
}

void SendAll(Transport& t, const std::vector<std::vector<uint8_t>>& frames, bool batch) {
  RoutingTable& table = TableOf(t);
  std::vector<FrameView> run;
  PeerId run_peer;
  auto flush = [&] {
    if (run.empty()) return;
    absl::StatusOr<size_t> n = t.Send(run_peer, run);
    EXPECT_TRUE(n.ok()) << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, run.size());
    }
    run.clear();
  };
  for (const auto& f : frames) {
    std::optional<Route> route = table.Lookup(PacketDestination(f));
    // No route yet: as the daemon would after start-up, give the transport
    // up to a second to discover a peer.
    for (absl::Time deadline = absl::Now() + absl::Seconds(1); !route && absl::Now() < deadline;) {
      flush();
      Housekeep(t);
      route = table.Lookup(PacketDestination(f));
      if (!route) absl::SleepFor(absl::Milliseconds(5));
    }
    PeerId peer = route ? route->peer : PeerId();
    if (!batch || peer != run_peer) flush();
    run_peer = peer;
    run.emplace_back(f);
  }
  flush();
}

namespace {

std::vector<std::vector<uint8_t>> Receive(Transport& t, size_t count, absl::Duration timeout,
                                          const std::vector<Transport*>& others,
                                          absl::Duration max_sleep) {
  std::vector<std::vector<uint8_t>> out;
  FrameBatch batch(64, kMaxFrameSize);
  FrameBatch ignored(64, kMaxFrameSize);
  absl::Time deadline = absl::Now() + timeout;
  while (out.size() < count && absl::Now() < deadline) {
    batch.Clear();
    absl::StatusOr<Transport::Received> n = t.Receive(batch);
    if (!n.ok()) {
      ADD_FAILURE() << n.status();
      break;
    }
    for (FrameView f : batch.frames()) out.emplace_back(f.begin(), f.end());
    for (Transport* o : others) {
      ignored.Clear();
      (void)o->Receive(ignored);
    }
    if (n->frames == 0) {
      std::vector<struct pollfd> fds;
      for (const WaitFd& w : t.wait_fds()) fds.push_back({w.fd, POLLIN, 0});
      absl::Duration sleep = std::min({t.poll_interval(), max_sleep, deadline - absl::Now()});
      poll(fds.data(), fds.size(),
           static_cast<int>(absl::ToInt64Milliseconds(std::max(sleep, absl::ZeroDuration()))));
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<uint8_t>> ReceiveN(Transport& t, size_t count, absl::Duration timeout,
                                           std::vector<Transport*> others) {
  return Receive(t, count, timeout, others, absl::Milliseconds(10));
}

std::vector<std::vector<uint8_t>> ReceiveAsThePump(Transport& t, size_t count,
                                                   absl::Duration timeout) {
  return Receive(t, count, timeout, {}, absl::InfiniteDuration());
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
