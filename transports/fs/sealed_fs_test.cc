// Sealing (seal/) over the fs transport: the conformance suite, and an attacker
// with write access to the shared folder but no key. The attacker runs as
// a separate (forked) process that writes well-formed record files (the
// record format's CRC is no secret) into the receiver's inbox under the
// next sequence numbers: replays of captured frames, frames sealed with
// another key, bit-flipped and truncated frames, and plain IP packets.
// None may be delivered; each is counted by reason; genuine traffic keeps
// flowing afterwards.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/routing_table.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "seal/sealed_transport.h"
#include "testing/packet_builder.h"
#include "testing/transport_conformance.h"
#include "transports/fs/fs_transport.h"
#include "transports/fs/names.h"
#include "transports/fs/record_injector.h"

namespace fstun {
namespace {

using ::fstun::testing::ConformanceParam;
using ::fstun::testing::ConformanceSetup;
using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;
using ::fstun::testing::ReceiveFrames;
using ::fstun::testing::TransportConformanceTest;
using ::fstun::testing::TransportPair;

std::string SharedKeyText() {
  static const std::string text = Key::Generate().ToBase64();
  return text;
}

std::shared_ptr<void> TempFolder(std::string* path) {
  static int counter = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  *path = absl::StrCat(base ? base : "/tmp", "/sealfs-", getpid(), "-", counter++);
  std::filesystem::create_directories(*path);
  std::string copy = *path;
  return std::shared_ptr<void>(nullptr, [copy](void*) { std::filesystem::remove_all(copy); });
}

std::unique_ptr<Transport> SealedFsPeer(const std::string& dir, const IpPrefix& address, size_t mtu,
                                        size_t backlog, bool inotify) {
  fs::FsTransportOptions o;
  o.dirpath = dir;
  o.mtu = mtu + kSealOverhead;
  o.max_backlog_bytes = backlog;
  o.use_inotify = inotify;
  o.addresses = {address};
  o.heartbeat = absl::Milliseconds(50);
  o.gc_interval = absl::Milliseconds(100);
  o.gap_wait = absl::Milliseconds(200);
  o.bad_file_wait = absl::Milliseconds(200);
  auto inner = fs::FsTransport::Create(o);
  CHECK(inner.ok()) << inner.status();
  auto sealed = SealedTransport::Create(*std::move(inner), *Key::FromBase64(SharedKeyText()),
                                        {mtu, SenderIdFor({address}), 0});
  CHECK(sealed.ok()) << sealed.status();
  return *std::move(sealed);
}

absl::StatusOr<TransportPair> MakeSealedFsPair(const ConformanceSetup& setup, bool inotify) {
  std::string dir;
  std::shared_ptr<void> folder = TempFolder(&dir);
  // The backlog bound counts sealed bytes; scale it so the "receiver does
  // not read" case fills it about as fast as the plain fs transport.
  size_t backlog = setup.queue_bytes;
  return TransportPair{SealedFsPeer(dir, setup.a_address, setup.mtu, backlog, inotify),
                       SealedFsPeer(dir, setup.b_address, setup.mtu, backlog, inotify), folder};
}

INSTANTIATE_TEST_SUITE_P(SealedFs, TransportConformanceTest,
                         ::testing::Values(ConformanceParam{"sealed_fs_inotify",
                                                            [](const ConformanceSetup& s) {
                                                              return MakeSealedFsPair(s, true);
                                                            }},
                                           ConformanceParam{"sealed_fs_polling",
                                                            [](const ConformanceSetup& s) {
                                                              return MakeSealedFsPair(s, false);
                                                            }}),
                         ::fstun::testing::ConformanceParamName);

std::vector<uint8_t> Packet(uint32_t tag, size_t size = 300) {
  return PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), tag, size);
}

const fs::FsTransport& Fs(const Transport& sealed) {
  return dynamic_cast<const fs::FsTransport&>(dynamic_cast<const SealedTransport&>(sealed).inner());
}

// Runs `attack` in a separate process, as another user of the folder would.
void AsAttackerProcess(const std::function<void()>& attack) {
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    attack();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(SealedFsAttackTest, WriterWithoutTheKeyInjectsNothingAndTheTunnelKeepsWorking) {
  std::string dir;
  std::shared_ptr<void> folder = TempFolder(&dir);
  IpPrefix a_addr = *IpPrefix::Parse("192.0.2.2/24");
  IpPrefix b_addr = *IpPrefix::Parse("192.0.2.1/24");
  std::unique_ptr<Transport> a = SealedFsPeer(dir, a_addr, 1400, 4 << 20, true);
  std::unique_ptr<Transport> b = SealedFsPeer(dir, b_addr, 1400, 4 << 20, true);
  RoutingTable a_table, b_table;
  a->SetPeerObserver(&a_table);
  b->SetPeerObserver(&b_table);
  absl::StatusOr<PeerId> to_b =
      ::fstun::testing::WaitForRoute(*a, a_table, b_addr.address, absl::Seconds(10));
  ASSERT_TRUE(to_b.ok()) << to_b.status();

  // Genuine traffic, captured from the folder by the attacker as it passes
  // (here: sealed frames as the receiver would read them).
  std::vector<std::vector<uint8_t>> genuine;
  for (uint32_t i = 0; i < 5; ++i) genuine.push_back(Packet(i));
  ASSERT_TRUE(a->Send(*to_b, std::vector<FrameView>(genuine.begin(), genuine.end())).ok());
  fs::CapturedInbox seen =
      fs::CaptureInbox(absl::StrCat(dir, "/inbox/", Fs(*b).peer_id()), kSealOverhead);
  ASSERT_TRUE(seen.stream.has_value());
  fs::VisibleStream s = *seen.stream;
  const std::vector<std::vector<uint8_t>>& captured = seen.frames;
  ASSERT_EQ(captured.size(), 5u);
  for (const auto& f : captured) {
    // The folder shows no plaintext.
    ASSERT_EQ(std::search(f.begin(), f.end(), genuine[0].begin() + 28, genuine[0].begin() + 60),
              f.end());
  }
  std::vector<std::vector<uint8_t>> got = ReceiveFrames(*b, 5, absl::Seconds(10));
  ASSERT_EQ(got, genuine);

  AsAttackerProcess([&] {
    Key wrong = Key::Generate();
    FrameSealer forger(wrong, SenderIdFor({a_addr}), 1);
    std::vector<uint8_t> forged(Packet(99).size() + kSealOverhead);
    forger.Seal(Packet(99), absl::MakeSpan(forged));
    std::vector<uint8_t> flipped = captured[0];
    flipped[40] ^= 1;
    std::vector<uint8_t> truncated(captured[1].begin(), captured[1].end() - 5);
    CHECK(fs::InjectRecord(s, captured).ok());                    // replay, as the next record
    CHECK(fs::InjectRecord(s, {forged, forged}).ok());            // well-formed file, wrong tag
    CHECK(fs::InjectRecord(s, {flipped, truncated}).ok());        // tampered copies
    CHECK(fs::InjectRecord(s, {Packet(100), Packet(101)}).ok());  // plain packets (trusted mode)
  });
  EXPECT_TRUE(ReceiveFrames(*b, 1, absl::Seconds(3), absl::Seconds(2)).empty());
  CounterSnapshot c = b->counters();
  EXPECT_EQ(c.drops_for("replay"), 5u) << c.ToString();
  EXPECT_EQ(c.drops_for("auth_failed"), 4u) << c.ToString();
  EXPECT_EQ(c.drops_for("malformed"), 2u) << c.ToString();
  EXPECT_EQ(c.rx_frames, 5u);

  // Genuine traffic flows again. The attacker's files used up sequence
  // numbers of the stream, so the fs transport skips the sender's next few
  // records as stale (loss, not injection): keep sending until frames
  // arrive.
  std::vector<std::vector<uint8_t>> after;
  for (uint32_t round = 0; round < 200 && after.empty(); ++round) {
    std::vector<uint8_t> p = Packet(1000 + round);
    ASSERT_TRUE(a->Send(*to_b, {FrameView(p)}).ok());
    after = ReceiveFrames(*b, 1, absl::Milliseconds(100));
  }
  ASSERT_FALSE(after.empty()) << "the tunnel did not recover: " << b->counters().ToString();
  EXPECT_GE(PacketBuilder::TagOf(after[0]), 1000);
  EXPECT_EQ(b->counters().rx_frames, 6u);

  // A captured frame in a file "renamed to a future sequence number" is
  // still a replay. (The fs stream then waits for the sender to reach that
  // number: sequence numbers in file names are not authenticated. See
  // docs/security.md, "What a folder writer can still do".)
  for (const auto& e : std::filesystem::directory_iterator(s.inbox)) {
    std::optional<fs::InboxName> n = fs::ParseInboxName(e.path().filename().string());
    if (n && n->kind == fs::InboxName::kRecord) s.next_seq = std::max(s.next_seq, n->seq + 1);
  }
  s.next_seq += 1000;
  AsAttackerProcess([&] { CHECK(fs::InjectRecord(s, {captured[2]}).ok()); });
  EXPECT_TRUE(ReceiveFrames(*b, 1, absl::Seconds(3), absl::Seconds(2)).empty());
  EXPECT_EQ(b->counters().drops_for("replay"), 6u) << b->counters().ToString();
  EXPECT_EQ(b->counters().rx_frames, 6u);
}

}  // namespace
}  // namespace fstun
