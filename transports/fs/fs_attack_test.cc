// Issue 12's cheap attacks by a folder writer without any key, against an
// unkeyed fs tunnel, then against a keyed one (FsKeyedAttackTest). Each test runs one attack
// against a live pair and asserts that frames flow again within a stated bound (printed as
// "measured:" lines, the numbers docs/security.md quotes), that the attack
// is counted, and that no genuine frame is delivered twice or out of order.
//
// Timings are the test options' (fs_test_util.h): heartbeat 50 ms, GC
// 100 ms, gap and bad-file waits 200 ms; peer timeout as each test says.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/keys.h"
#include "identity/link_keys.h"
#include "seal/key.h"
#include "seal/link_auth.h"
#include "transports/fs/announcement.h"
#include "transports/fs/fs_test_util.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun::fs {
namespace {

using namespace fstun::fs::testing;  // NOLINT

constexpr absl::Duration kTimeout = absl::Seconds(8);
// The disruption docs/security.md states for every attack ("traffic resumes
// within 3 s of the attacker's last write"). What each one really costs is
// printed ("measured: ...", tens to hundreds of ms with these timings) and
// goes into the docs' table; the assertion is the promise, not the
// measurement, so a loaded machine (ASan, CI) cannot fail it and a stall
// (kTimeout) still does.
constexpr absl::Duration kStatedDisruption = absl::Seconds(3);

// A directory that nobody can remove with rmdir (it is not empty).
void MakeNonEmptyDirectory(const std::string& path) {
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0) << path;
  WriteFile(path + "/x", "x");
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Sends one frame `tag` from -> to every 20 ms until `to` receives a frame
// (or `bound` passes); returns the time that took and the tags received
// (frames sent earlier may arrive too).
struct Recovery {
  absl::Duration took = absl::InfiniteDuration();
  std::vector<int64_t> tags;
  uint32_t sent = 0;
};
Recovery MeasureRecovery(FsTransport& from, const std::string& src, FsTransport& to,
                         const std::string& dst, uint32_t first_tag, absl::Duration bound) {
  Recovery r;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < bound) {
    SendAll(from, {Frame(src, dst, first_tag + r.sent++)});
    std::vector<std::vector<uint8_t>> got = ReceiveN(to, 1, absl::Milliseconds(20), {&from});
    if (!got.empty()) {
      r.took = absl::Now() - start;
      for (int64_t t : Tags(got)) r.tags.push_back(t);
      // Whatever else is on its way.
      for (int64_t t : Tags(ReceiveN(to, 64, absl::Milliseconds(100), {&from}))) {
        r.tags.push_back(t);
      }
      break;
    }
  }
  return r;
}

void Report(const char* attack, const Recovery& r);

// Frames flow again a -> b and b -> a within 300 ms, starting with the
// first frame sent after the attack (tag 100): nothing of it was lost.
void ExpectResumes(FsTransport& a, FsTransport& b, const std::string& what) {
  for (bool forward : {true, false}) {
    FsTransport& from = forward ? a : b;
    FsTransport& to = forward ? b : a;
    Recovery r = MeasureRecovery(from, forward ? "192.0.2.2" : "192.0.2.1", to,
                                 forward ? "192.0.2.1" : "192.0.2.2", 100, kTimeout);
    Report(absl::StrCat(what, forward ? " (a -> b)" : " (b -> a)").c_str(), r);
    EXPECT_LE(r.took, kStatedDisruption) << what;
    ASSERT_FALSE(r.tags.empty()) << what;
    EXPECT_EQ(r.tags.front(), 100) << what;
  }
}

void Report(const char* attack, const Recovery& r) {
  printf("measured: %s: frames flow again after %s (%u frame(s) sent meanwhile)\n", attack,
         absl::FormatDuration(r.took).c_str(), r.sent);
}

bool StrictlyIncreasing(const std::vector<int64_t>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] <= v[i - 1]) return false;
  }
  return true;
}

class FsAttackTest : public ::testing::Test {
 protected:
  // A live pair, client a and server b, one frame each way; keyed if `auth`.
  // `before_traffic`: runs once both exist, before the first frame.
  void Start(absl::Duration peer_timeout = absl::Seconds(5),
             std::shared_ptr<const LinkAuthenticator> auth = nullptr,
             const std::function<void()>& before_traffic = {}) {
    FsTransportOptions ao = TestOptions(folder_.path(), "192.0.2.2/24", "client");
    FsTransportOptions bo = TestOptions(folder_.path(), "192.0.2.1/24", "server");
    ao.peer_timeout = bo.peer_timeout = peer_timeout;
    ao.link_auth = bo.link_auth = std::move(auth);
    ao.ring_store = bo.ring_store = ring_;
    a_ = MakePeer(ao);
    b_ = MakePeer(bo);
    ASSERT_TRUE(a_ && b_);
    if (before_traffic) before_traffic();
    SendAll(*a_, {Frame("192.0.2.2", "192.0.2.1", 1)});
    ASSERT_EQ(ReceiveN(*b_, 1, kTimeout, {a_.get()}).size(), 1u);
    SendAll(*b_, {Frame("192.0.2.1", "192.0.2.2", 2)});
    ASSERT_EQ(ReceiveN(*a_, 1, kTimeout, {b_.get()}).size(), 1u);
  }
  std::string InboxB() const { return folder_.inbox(b_->peer_id()); }
  std::string NameAB(uint64_t seq) const {
    SeqName n("", StreamPrefix(a_->peer_id(), a_->session(), b_->session()), kRecordSuffix);
    return InboxB() + "/" + n.For(seq);
  }
  std::string Peers() const { return folder_.path() + "/peers"; }
  // Rewrites b's announcement with another session and the next beat, as
  // anyone who can write the folder can; `real` is what was there. Then a
  // reads the fake (its scan) and b's next heartbeat restores the real one.
  void ForgeServerSession(size_t max_bytes, Announcement* real) {
    const std::string path = absl::StrCat(Peers(), "/", b_->peer_id(), kPeerSuffix);
    absl::StatusOr<Announcement> parsed = ParseAnnouncement(ReadFile(path), max_bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    *real = *parsed;
    Announcement fake = *parsed;
    fake.session ^= 0x5555;
    fake.beat += 1;
    WriteFile(path, EncodeAnnouncement(fake));
    RunFor({a_.get()}, absl::Milliseconds(120));
    RunFor({a_.get(), b_.get()}, absl::Milliseconds(200));
  }
  // The i-th of a flood of junk announcements (a 64-character id each).
  static Announcement Junk(int i) {
    Announcement fake;
    fake.id = absl::StrCat(std::string(60, 'm'), 1000 + i);
    fake.session = 0x1000 + i;
    fake.role = "client";
    fake.mtu = 1400;
    fake.formats = {1};
    fake.beat = 1;
    fake.time = absl::Now();
    return fake;
  }
  void Write(const Announcement& a) {
    WriteFile(absl::StrCat(Peers(), "/", a.id, kPeerSuffix), EncodeAnnouncement(a));
  }

  TempFolder folder_;
  std::unique_ptr<FsTransport> a_;
  std::unique_ptr<FsTransport> b_;
  bool ring_ = false;  // both ends use the ring store
};

// (a) A non-empty directory (nobody can rmdir it) at the next record name,
// and at the two after it: the reader treated it as junk it had removed and
// waited there for good; the sender's renames onto it failed.
TEST_F(FsAttackTest, NonRemovableDirectoriesAtTheNextRecordNamesCostAtMostAGapWaitEach) {
  Start();
  for (uint64_t seq = 2; seq <= 4; ++seq) MakeNonEmptyDirectory(NameAB(seq));
  Recovery r = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("non-empty directories at the next 3 record names", r);
  // A gap wait (200 ms) plus its probe interval: the three names are passed
  // in one skip, and the sender moves past them without losing a frame.
  EXPECT_LE(r.took, kStatedDisruption);
  EXPECT_TRUE(StrictlyIncreasing(r.tags));
  ASSERT_FALSE(r.tags.empty());
  EXPECT_EQ(r.tags.front(), 100) << "the first frame sent is not lost";
  // The sender gave up each name once; the reader counts those it looked
  // at (a skip straight to the sender's record passes the others unread).
  EXPECT_EQ(a_->counters().drops_for("blocked_name"), 3u);
  const uint64_t seen = b_->counters().drops_for("blocked_name");
  EXPECT_GE(seen, 1u);
  EXPECT_LE(seen, 3u);
  EXPECT_EQ(b_->counters().drops_for("not_regular"), 0u) << "not counted on every look";
  // And it stays that way.
  Recovery again = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 200, kTimeout);
  EXPECT_LE(again.took, kStatedDisruption);
  EXPECT_EQ(b_->counters().drops_for("blocked_name"), seen);
}

// (b) Directories at the fixed temp names the old code used: the own
// announcement's (peers/.<id>.peer.tmp: never rewritten again, so the other
// side dropped the peer after its timeout), the doorbell's and the next
// record's. Temp names now carry a random part.
TEST_F(FsAttackTest, SquattedTempNamesBlockNothing) {
  Start(/*peer_timeout=*/absl::Milliseconds(800));
  MakeNonEmptyDirectory(absl::StrCat(Peers(), "/.", a_->peer_id(), ".peer.tmp"));
  MakeNonEmptyDirectory(absl::StrCat(InboxB(), "/.doorbell.", a_->peer_id(), ".tmp"));
  SeqName temp(".", StreamPrefix(a_->peer_id(), a_->session(), b_->session()), ".tmp");
  MakeNonEmptyDirectory(absl::StrCat(InboxB(), "/", temp.For(2)));
  // Longer than the peer timeout with no traffic: only beats keep a live.
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(1500));
  Recovery ab = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("directory at a record's temp name", ab);
  EXPECT_LE(ab.took, kStatedDisruption);
  Recovery ba = MeasureRecovery(*b_, "192.0.2.1", *a_, "192.0.2.2", 300, kTimeout);
  Report("directory at the announcement's temp name (b -> a after the peer timeout)", ba);
  EXPECT_LE(ba.took, kStatedDisruption);
  EXPECT_EQ(b_->counters().drops_for("no_route"), 0u);
}

TEST(FsAttackDoorbellTest, SquattedDoorbellTempNameDoesNotHideANewcomer) {
  // b never lists the peers folder (as on a share whose listings are
  // stale): it learns of a only through its doorbell.
  TempFolder folder;
  FsTransportOptions bo = TestOptions(folder.path(), "192.0.2.1/24");
  bo.list_peers = false;
  auto b = MakePeer(bo);
  ASSERT_TRUE(b);
  MakeNonEmptyDirectory(absl::StrCat(folder.inbox(b->peer_id()), "/.doorbell.192-0-2-2.tmp"));
  auto a = MakePeer(TestOptions(folder.path(), "192.0.2.2/24"));
  ASSERT_TRUE(a);
  RunFor({a.get(), b.get()}, absl::Milliseconds(300));
  Recovery r = MeasureRecovery(*b, "192.0.2.1", *a, "192.0.2.2", 1, absl::Seconds(3));
  Report("directory at the doorbell's temp name (newcomer found)", r);
  EXPECT_LE(r.took, kStatedDisruption);
}

// (c) One valid-looking record far in the future while the stream is idle:
// after its gap wait the reader jumped there, and every genuine record
// after that was below its next number and deleted, uncounted.
TEST_F(FsAttackTest, FarFutureRecordDoesNotSwallowTheGenuineStream) {
  Start();
  const uint64_t far = uint64_t{1} << 40;
  std::vector<uint8_t> image = RecordImage(*a_, far, Frame("192.0.2.2", "192.0.2.1", 666));
  WriteFile(NameAB(far),
            absl::string_view(reinterpret_cast<const char*>(image.data()), image.size()));
  // Idle for longer than a GC pass and the gap wait: the reader jumps.
  (void)ReceiveN(*b_, 1, absl::Milliseconds(600), {a_.get()});
  Recovery r = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("a valid record under a far-future number", r);
  // The reader looks back where it jumped from every gap_wait/4.
  EXPECT_LE(r.took, kStatedDisruption);
  ASSERT_FALSE(r.tags.empty());
  EXPECT_EQ(r.tags.front(), 100) << "no genuine frame lost";
  EXPECT_TRUE(StrictlyIncreasing(r.tags));
  EXPECT_EQ(b_->counters().drops_for("jump_undone"), 1u);
  Recovery again = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 200, kTimeout);
  EXPECT_LE(again.took, kStatedDisruption);
}

// (d) 70 tiny announcements with 64-character ids: listed in every real
// announcement, they grew it past the 4096-byte limit, and the other side
// stopped reading it (the peer was dropped after its timeout).
TEST_F(FsAttackTest, AnnouncementFloodCannotGrowRealAnnouncementsPastTheLimit) {
  Start(/*peer_timeout=*/absl::Milliseconds(800));
  for (int i = 0; i < 70; ++i) Write(Junk(i));
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(1500));
  for (const std::string& id : {a_->peer_id(), b_->peer_id()}) {
    EXPECT_LE(ReadFile(absl::StrCat(Peers(), "/", id, kPeerSuffix)).size(), kMaxAnnouncementBytes);
  }
  Recovery r = MeasureRecovery(*b_, "192.0.2.1", *a_, "192.0.2.2", 100, kTimeout);
  Report("70 announcements with 64-character ids (b -> a after the peer timeout)", r);
  EXPECT_LE(r.took, kStatedDisruption);
  EXPECT_EQ(b_->counters().drops_for("no_route"), 0u);
}

// (e) b's announcement rewritten with a fake session: a restarted both
// streams at 1 (b kept waiting at its old number and deleted a's new
// records as "below the next number"), then again when b's real
// announcement came back.
TEST_F(FsAttackTest, FakeSessionInARewrittenAnnouncementDoesNotRestartTheStreams) {
  Start();
  // Move the streams along, so "restart at 1" and "resume" differ.
  for (uint32_t i = 0; i < 40; ++i) SendAll(*a_, {Frame("192.0.2.2", "192.0.2.1", 10 + i)});
  ASSERT_EQ(ReceiveN(*b_, 40, kTimeout).size(), 40u);
  for (uint32_t i = 0; i < 40; ++i) SendAll(*b_, {Frame("192.0.2.1", "192.0.2.2", 10 + i)});
  ASSERT_EQ(ReceiveN(*a_, 40, kTimeout).size(), 40u);
  Announcement real;
  ASSERT_NO_FATAL_FAILURE(ForgeServerSession(kMaxAnnouncementBytes, &real));
  ExpectResumes(*a_, *b_, "fake session in the server's announcement");
}

// (e, variant) b's announcement deleted by someone else: a forgot b, and
// when b's next heartbeat wrote it again, a started both streams at 1.
TEST_F(FsAttackTest, DeletedAnnouncementThatReturnsResumesTheStreams) {
  Start();
  for (uint32_t i = 0; i < 40; ++i) SendAll(*a_, {Frame("192.0.2.2", "192.0.2.1", 10 + i)});
  ASSERT_EQ(ReceiveN(*b_, 40, kTimeout).size(), 40u);
  for (uint32_t i = 0; i < 40; ++i) SendAll(*b_, {Frame("192.0.2.1", "192.0.2.2", 10 + i)});
  ASSERT_EQ(ReceiveN(*a_, 40, kTimeout).size(), 40u);
  ASSERT_EQ(unlink(absl::StrCat(Peers(), "/", b_->peer_id(), kPeerSuffix).c_str()), 0);
  RunFor({a_.get()}, absl::Milliseconds(120));  // a's scan: b left
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(200));
  ExpectResumes(*a_, *b_, "the server's announcement deleted");
  EXPECT_EQ(a_->counters().drops_for("session_flip"), 1u);
}

// (f) A fake peer announcing role=server: the client's default route (what
// matches no announced prefix) must stay with the server it knew first,
// also after that server restarted cleanly (it left and came back).
TEST(FsAttackServerTest, FakeServerDoesNotTakeTheDefaultRoute) {
  TempFolder folder;
  auto c = MakePeer(TestOptions(folder.path(), "192.0.2.2/24", "client"));
  auto s = MakePeer(TestOptions(folder.path(), "192.0.2.1/24", "server"));
  ASSERT_TRUE(c && s);
  ASSERT_TRUE(WaitForPeer(*c, s->peer_id()));
  auto fake_beat = [&, beat = uint64_t{1}]() mutable {
    Announcement fake;
    fake.id = "mallory";
    fake.session = 0x6d616c6c;
    fake.role = "server";
    fake.addresses = {*IpPrefix::Parse("192.0.2.99/32")};
    fake.mtu = 1400;
    fake.formats = {1};
    fake.beat = beat++;
    fake.time = absl::Now();
    WriteFile(folder.path() + "/peers/mallory.peer", EncodeAnnouncement(fake));
    std::filesystem::create_directories(folder.inbox("mallory"));
  };
  auto default_route = [&]() -> std::string {
    std::optional<Route> r = TableOf(*c).Lookup(IpAddress::Parse("203.0.113.7").value());
    return r ? r->peer : "(none)";
  };
  fake_beat();
  for (int i = 0; i < 10; ++i) {
    RunFor({c.get(), s.get()}, absl::Milliseconds(50));
    fake_beat();
  }
  EXPECT_EQ(default_route(), s->peer_id());
  // The server restarts cleanly: it leaves (announcement removed) and
  // comes back with a new session while the fake keeps beating.
  s.reset();
  for (int i = 0; i < 6; ++i) {
    RunFor({c.get()}, absl::Milliseconds(50));
    fake_beat();
  }
  s = MakePeer(TestOptions(folder.path(), "192.0.2.1/24", "server"));
  for (int i = 0; i < 10; ++i) {
    RunFor({c.get(), s.get()}, absl::Milliseconds(50));
    fake_beat();
  }
  EXPECT_EQ(default_route(), s->peer_id());
  EXPECT_GE(c->counters().drops_for("extra_server"), 1u);
  printf("measured: fake role=server peer: default route stays with the real server\n");
}

// ------------------------------------------------------------------ keyed
// The same folder writer against a keyed tunnel (TransportConfig::link_auth:
// record headers and announcements carry tags only key holders can make).
// Nothing it writes may be acted on: no frame it wrote is delivered, no
// genuine record is lost (gap and late_record stay 0 where it only adds
// files), no jump, no session change; each attack is counted.

class FsKeyedAttackTest : public FsAttackTest {
 protected:
  void SetUp() override {
    key_ = std::make_unique<Key>(Key::Generate());
    auth_ = MakeSharedKeyLinkAuth(*key_);
  }
  void StartKeyed(absl::Duration peer_timeout = absl::Seconds(5)) { Start(peer_timeout, auth_); }
  // A well-formed record of a's stream to b numbered `seq`, as a writer
  // without the key can make it: unkeyed (format 1), or format 2 tagged
  // with another key.
  void Plant(uint64_t seq, uint32_t tag, bool tagged) {
    std::vector<uint8_t> frame = Frame("192.0.2.2", "192.0.2.1", tag);
    std::vector<FrameView> views = {FrameView(frame.data(), frame.size())};
    RecordEncoder encoder;
    Key other = Key::Generate();
    auto wrong = MakeSharedKeyLinkAuth(other);
    RecordAuth auth{wrong->ForPeer("psk"), b_->peer_id(), b_->session()};
    absl::Span<const iovec> iov =
        encoder.Encode(a_->peer_id(), a_->session(), seq, views, 0, tagged ? &auth : nullptr);
    std::string bytes;
    for (const iovec& v : iov) bytes.append(static_cast<const char*>(v.iov_base), v.iov_len);
    WriteFile(NameAB(seq), bytes);
  }
  // Nothing unexpected happened to the genuine streams.
  void ExpectNoLossNoJump() {
    for (FsTransport* t : {a_.get(), b_.get()}) {
      for (const char* c : {"gap", "late_record", "far_jump", "jump_undone", "session_flip",
                            "peer_restarted", "peer_gone"}) {
        EXPECT_EQ(t->counters().drops_for(c), 0u) << t->peer_id() << ": " << c;
      }
    }
  }

  std::unique_ptr<Key> key_;
  std::shared_ptr<const LinkAuthenticator> auth_;
};

// A forged record at the next name (and the two after it), unkeyed and
// tagged with a wrong key, CRC valid: unkeyed they were delivered (to the
// layer above, which dropped them); keyed they are not there at all, and
// the sender's own records replace them.
TEST_F(FsKeyedAttackTest, ForgedRecordsAtTheNextNamesAreNotThere) {
  StartKeyed();
  Plant(2, 666, /*tagged=*/false);
  Plant(3, 667, /*tagged=*/true);
  Plant(4, 668, /*tagged=*/true);
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(600));  // a gap wait and more
  Recovery r = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("keyed: forged records at the next 3 record names", r);
  EXPECT_LE(r.took, kStatedDisruption);
  ASSERT_FALSE(r.tags.empty());
  EXPECT_EQ(r.tags.front(), 100) << "the first frame sent is not lost";
  EXPECT_TRUE(StrictlyIncreasing(r.tags));
  EXPECT_THAT(r.tags, ::testing::Not(::testing::Contains(::testing::AnyOf(666, 667, 668))));
  EXPECT_GE(b_->counters().drops_for("bad_record_auth"), 1u);
  EXPECT_LE(b_->counters().drops_for("bad_record_auth"), 3u) << "counted once per name";
  ExpectNoLossNoJump();
}

// A forged record far ahead, and one just ahead while the next is missing:
// unkeyed the reader jumped there after its gap wait (and came back: a
// `jump_undone`); keyed it never moves on a forged record.
TEST_F(FsKeyedAttackTest, ForgedFutureRecordsNeverMoveTheReader) {
  StartKeyed();
  Plant(uint64_t{1} << 40, 666, /*tagged=*/true);
  Plant(5000, 667, /*tagged=*/false);
  Plant(3, 668, /*tagged=*/true);
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(800));  // GC passes, gap waits
  Recovery r = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("keyed: forged records far ahead and just ahead", r);
  EXPECT_LE(r.took, kStatedDisruption);
  ASSERT_FALSE(r.tags.empty());
  EXPECT_EQ(r.tags.front(), 100);
  EXPECT_TRUE(StrictlyIncreasing(r.tags));
  EXPECT_THAT(r.tags, ::testing::Not(::testing::Contains(::testing::AnyOf(666, 667, 668))));
  EXPECT_GE(b_->counters().drops_for("bad_record_auth"), 2u);
  ExpectNoLossNoJump();
  // The far ones are removed by the inbox's garbage collection.
  EXPECT_FALSE(std::filesystem::exists(NameAB(uint64_t{1} << 40)));
}

// A genuine record replayed: under its own (old) session after the sender
// restarted, and renamed into the new session's next name.
TEST_F(FsKeyedAttackTest, ReplayedRecordsOfAnOldSessionAreRefused) {
  StartKeyed();
  // Capture a's next record before b reads it.
  SendAll(*a_, {Frame("192.0.2.2", "192.0.2.1", 3)});
  std::vector<std::string> waiting = RecordsIn(InboxB());
  ASSERT_EQ(waiting.size(), 1u);
  const std::string captured = ReadFile(InboxB() + "/" + waiting[0]);
  ASSERT_EQ(ReceiveN(*b_, 1, kTimeout, {a_.get()}).size(), 1u);
  // a restarts: a new (larger) session.
  const uint64_t old_session = a_->session();
  FsTransportOptions ao = TestOptions(folder_.path(), "192.0.2.2/24", "client");
  ao.link_auth = auth_;
  a_.reset();
  a_ = MakePeer(ao);
  ASSERT_TRUE(a_);
  EXPECT_GT(a_->session(), old_session) << "keyed sessions only grow";
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
  WriteFile(InboxB() + "/" + waiting[0], captured);
  WriteFile(NameAB(1), captured);
  WriteFile(NameAB(2), captured);
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
  Recovery r = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("keyed: a record of the sender's old session replayed", r);
  EXPECT_LE(r.took, kStatedDisruption);
  ASSERT_FALSE(r.tags.empty());
  EXPECT_EQ(r.tags.front(), 100);
  EXPECT_THAT(r.tags, ::testing::Not(::testing::Contains(3)));
  EXPECT_GE(b_->counters().drops_for("replayed_record"), 1u);
  EXPECT_GE(b_->counters().drops_for("stale_file"), 1u);
  EXPECT_EQ(b_->counters().drops_for("gap"), 0u);
  EXPECT_EQ(b_->counters().drops_for("far_jump"), 0u);
}

// Directories, a FIFO and a symlink at the next record names: as unkeyed,
// passed over (the sender moves on), nothing lost.
TEST_F(FsKeyedAttackTest, JunkAtTheNextNamesCostsAtMostAGapWait) {
  StartKeyed();
  MakeNonEmptyDirectory(NameAB(2));
  ASSERT_EQ(mkfifo(NameAB(3).c_str(), 0600), 0);
  ASSERT_EQ(symlink("/etc/passwd", NameAB(4).c_str()), 0);
  Recovery r = MeasureRecovery(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, kTimeout);
  Report("keyed: a directory, a FIFO and a symlink at the next record names", r);
  EXPECT_LE(r.took, kStatedDisruption);
  ASSERT_FALSE(r.tags.empty());
  EXPECT_EQ(r.tags.front(), 100);
  EXPECT_TRUE(StrictlyIncreasing(r.tags));
  EXPECT_EQ(b_->counters().drops_for("far_jump"), 0u);
  EXPECT_EQ(b_->counters().drops_for("late_record"), 0u);
}

// The server's announcement rewritten with a fake session (its tag copied,
// so it no longer verifies): unkeyed a restarted or flipped its streams;
// keyed it ignores the file, and b's next heartbeat replaces it.
TEST_F(FsKeyedAttackTest, FakeSessionAnnouncementIsIgnored) {
  StartKeyed();
  for (uint32_t i = 0; i < 40; ++i) SendAll(*a_, {Frame("192.0.2.2", "192.0.2.1", 10 + i)});
  ASSERT_EQ(ReceiveN(*b_, 40, kTimeout).size(), 40u);
  Announcement real;
  ASSERT_NO_FATAL_FAILURE(ForgeServerSession(kMaxKeyedAnnouncementBytes, &real));
  EXPECT_EQ(real.identity, "psk");
  ASSERT_FALSE(real.tags.empty());
  ExpectResumes(*a_, *b_, "keyed: fake session in the server's announcement");
  EXPECT_GE(a_->counters().drops_for("bad_announcement_auth"), 1u);
  ExpectNoLossNoJump();
}

// The server's announcement replayed: an older beat of the same session,
// then the announcement of a session before it (b restarted).
TEST_F(FsKeyedAttackTest, ReplayedAnnouncementsAreRefused) {
  StartKeyed();
  const std::string path = absl::StrCat(Peers(), "/", b_->peer_id(), kPeerSuffix);
  const std::string old_beat = ReadFile(path);
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(200));  // a few beats on
  WriteFile(path, old_beat);
  RunFor({a_.get()}, absl::Milliseconds(120));
  EXPECT_GE(a_->counters().drops_for("replayed_announcement"), 1u);
  ExpectNoLossNoJump();
  // b restarts; its old announcement comes back.
  FsTransportOptions bo = TestOptions(folder_.path(), "192.0.2.1/24", "server");
  bo.link_auth = auth_;
  b_.reset();
  b_ = MakePeer(bo);
  ASSERT_TRUE(b_);
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
  const uint64_t restarted = a_->counters().drops_for("peer_restarted");
  const uint64_t replays = a_->counters().drops_for("replayed_announcement");
  WriteFile(path, old_beat);
  RunFor({a_.get()}, absl::Milliseconds(120));
  EXPECT_GT(a_->counters().drops_for("replayed_announcement"), replays);
  EXPECT_EQ(a_->counters().drops_for("peer_restarted"), restarted) << "no flip back";
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(100));
  ExpectResumes(*a_, *b_, "keyed: the server's old announcement replayed");
}

// A peer announcing role=server without the key, and a flood of keyless
// announcements: neither is a peer.
TEST_F(FsKeyedAttackTest, KeylessPeersAndFloodsAreNotPeers) {
  StartKeyed(/*peer_timeout=*/absl::Milliseconds(800));
  for (int i = 0; i < 70; ++i) {
    Announcement fake = Junk(i);
    if (i == 0) {
      fake.id = "mallory";
      fake.role = "server";
    }
    fake.addresses = {*IpPrefix::Parse(absl::StrCat("203.0.113.", i + 1, "/32"))};
    fake.formats = {2};
    fake.identity = "psk";
    // Half carry a made-up tag for every "psk" reader, half none.
    if (i % 2 == 0) fake.tags = {{"psk", std::string(32, 'a')}};
    Write(fake);
  }
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(1500));
  for (FsTransport* t : {a_.get(), b_.get()}) EXPECT_EQ(t->peers().size(), 1u) << t->peer_id();
  std::optional<Route> r = TableOf(*a_).Lookup(IpAddress::Parse("203.0.113.1").value());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->peer, b_->peer_id()) << "the default route stays with the real server";
  EXPECT_GE(a_->counters().drops_for("bad_announcement_auth"), 1u);
  Recovery rec = MeasureRecovery(*b_, "192.0.2.1", *a_, "192.0.2.2", 100, kTimeout);
  Report("keyed: a keyless role=server peer and 69 keyless announcements", rec);
  EXPECT_LE(rec.took, kStatedDisruption);
  ExpectNoLossNoJump();
}

// Per-peer keys: a peer whose key the others do not list is not a peer,
// and its records are not read.
TEST(FsKeyedPeerTest, UnlistedIdentityIsIgnored) {
  TempFolder folder;
  PrivateKey ka = PrivateKey::Generate(), kb = PrivateKey::Generate(), kc = PrivateKey::Generate();
  FsTransportOptions ao = TestOptions(folder.path(), "192.0.2.2/24", "client");
  FsTransportOptions bo = TestOptions(folder.path(), "192.0.2.1/24", "server");
  FsTransportOptions co = TestOptions(folder.path(), "192.0.2.3/24", "server");
  ao.link_auth = *MakeIdentityLinkAuth(ka, {kb.public_key()}, {});
  bo.link_auth = *MakeIdentityLinkAuth(kb, {ka.public_key()}, {});
  co.link_auth = *MakeIdentityLinkAuth(kc, {ka.public_key(), kb.public_key()}, {});
  auto a = MakePeer(ao), b = MakePeer(bo), c = MakePeer(co);
  ASSERT_TRUE(a && b && c);
  RunFor({a.get(), b.get(), c.get()}, absl::Milliseconds(400));
  EXPECT_EQ(a->peers().size(), 1u);
  EXPECT_EQ(b->peers().size(), 1u);
  EXPECT_EQ(c->peers().size(), 0u) << "nobody lists c's key, and c's announcement tags fail";
  EXPECT_GE(a->counters().drops_for("peer_not_accepted"), 1u);
  EXPECT_EQ(a->counters().drops_for("peer_not_accepted"), 1u) << "counted once";
  SendAll(*a, {Frame("192.0.2.2", "192.0.2.1", 7)});
  std::vector<std::vector<uint8_t>> got = ReceiveN(*b, 1, kTimeout, {a.get(), c.get()});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Tags(got).front(), 7);
}

// ---------------------------------------------------------------- ring store
// The ring store's own names (--fs_store=ring, docs/fs-transport.md section
// 14): one ring file per stream, written by the sender, and one ack file,
// written by the reader, at names anyone who reads the announcements can
// compute. Each attack runs against a live pair in ring mode, unkeyed and
// keyed (the parameter); the attacks on the ring's contents (forged acks,
// resync points, records spoiled in place) are in ring_store_test.

class FsRingAttackTest : public FsAttackTest, public ::testing::WithParamInterface<bool> {
 protected:
  void StartRing(const std::function<void()>& before_traffic = {}) {
    ring_ = true;
    key_ = std::make_unique<Key>(Key::Generate());
    Start(absl::Seconds(5), GetParam() ? MakeSharedKeyLinkAuth(*key_) : nullptr, before_traffic);
    // Each reader writes its ack at its next look after the first frames.
    RunFor({a_.get(), b_.get()}, absl::Milliseconds(20));
  }
  // DIR/inbox/<to>/<from>.<its session>.<to's session><suffix>
  std::string StreamFile(const FsTransport& from, const FsTransport& to, const char* suffix) {
    std::string prefix = StreamPrefix(from.peer_id(), from.session(), to.session());
    return folder_.inbox(to.peer_id()) + "/" + prefix.substr(0, prefix.size() - 1) + suffix;
  }
  // Frames sent from -> to from `first_tag` arrive in order, starting with
  // the first, within the stated bound; returns what took.
  void ExpectFlows(FsTransport& from, const std::string& src, FsTransport& to,
                   const std::string& dst, uint32_t first_tag, const std::string& what) {
    Recovery r = MeasureRecovery(from, src, to, dst, first_tag, kTimeout);
    Report(what.c_str(), r);
    EXPECT_LE(r.took, kStatedDisruption) << what;
    ASSERT_FALSE(r.tags.empty()) << what;
    EXPECT_EQ(r.tags.front(), first_tag) << what << ": the first frame sent is not lost";
    EXPECT_TRUE(StrictlyIncreasing(r.tags)) << what;
    EXPECT_LT(r.tags.back(), first_tag + r.sent) << what << ": nothing that was not sent";
  }
  std::unique_ptr<Key> key_;
};

INSTANTIATE_TEST_SUITE_P(KeyedOrNot, FsRingAttackTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "keyed" : "unkeyed";
                         });

// The ring is removed while both ends hold it, and something else is put
// at its name: a FIFO, a symlink, a one-byte file, a 2 GiB sparse file, a
// stale copy of the ring; or it is cut short in place. Held handles keep
// working, so nothing stops at once; the writer notices (link count, size:
// within 250 ms idle), makes a new ring over the name (`ring_replaced`),
// and the reader, finding nothing more in the old one, opens the new one.
TEST_P(FsRingAttackTest, EntriesReplacingTheRingCostAtMostTheStatedDisruption) {
  StartRing();
  const std::string ring = StreamFile(*a_, *b_, kRingSuffix);
  const std::string copy = folder_.path() + "/copy";
  const char* kinds[] = {"a FIFO",
                         "a symlink",
                         "a one-byte file",
                         "a 2 GiB sparse file",
                         "a stale copy of the ring",
                         "the ring cut short in place"};
  uint32_t tag = 1000;
  for (const char* kind : kinds) {
    const std::string what = kind;
    const std::string temp = ring + ".attacker";
    if (what == "a FIFO") {
      ASSERT_EQ(mkfifo(temp.c_str(), 0600), 0);
    } else if (what == "a symlink") {
      ASSERT_EQ(symlink("/dev/zero", temp.c_str()), 0);
    } else if (what == "a one-byte file") {
      WriteFile(temp, "x");
    } else if (what == "a 2 GiB sparse file") {
      WriteFile(temp, "");
      ASSERT_EQ(truncate(temp.c_str(), off_t{2} << 30), 0);
    } else if (what == "a stale copy of the ring") {
      WriteFile(temp, ReadFile(ring).substr(0, 64 << 10));  // its first records
    }
    if (what == "the ring cut short in place") {
      ASSERT_EQ(truncate(ring.c_str(), 100), 0);
    } else {
      ASSERT_EQ(rename(temp.c_str(), ring.c_str()), 0) << what;
    }
    const uint64_t replaced = a_->counters().drops_for("ring_replaced");
    RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
    ExpectFlows(*a_, "192.0.2.2", *b_, "192.0.2.1", tag, "ring store: " + what + " at the ring");
    EXPECT_EQ(a_->counters().drops_for("ring_replaced"), replaced + 1) << what << ": counted once";
    tag += 1000;
  }
  for (const char* c : {"far_jump", "bad_record_auth", "backlog_full"}) {
    EXPECT_EQ(b_->counters().drops_for(c), 0u) << c;
  }
}

// A non-empty directory at a ring's name (for a -> b) and at an ack's name
// (for b -> a): nothing can replace it, so neither stream can use a ring;
// both go on with record files (`blocked_name`, once per end and stream),
// and the reader looks for both.
TEST_P(FsRingAttackTest, DirectoriesAtTheRingAndAckNamesMakeTheStreamsUseFiles) {
  StartRing();
  const std::string ring = StreamFile(*a_, *b_, kRingSuffix);
  const std::string ack = StreamFile(*b_, *a_, kAckSuffix);
  ASSERT_EQ(unlink(ring.c_str()), 0);
  MakeNonEmptyDirectory(ring);
  ASSERT_EQ(unlink(ack.c_str()), 0);
  MakeNonEmptyDirectory(ack);
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
  ExpectFlows(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, "ring store: a directory at the ring");
  ExpectFlows(*b_, "192.0.2.1", *a_, "192.0.2.2", 200, "ring store: a directory at the ack");
  // A writer notices a blocked ack when it next writes (it reads its ack
  // only while records wait): by now each end may have counted one or both.
  EXPECT_LE(a_->counters().drops_for("blocked_name"), 2u) << "writer a -> b, reader b -> a";
  EXPECT_LE(b_->counters().drops_for("blocked_name"), 2u) << "reader a -> b, writer b -> a";
  // After more traffic both ways: each end counted both, once.
  ExpectFlows(*a_, "192.0.2.2", *b_, "192.0.2.1", 300, "ring store: a directory at the ring");
  ExpectFlows(*b_, "192.0.2.1", *a_, "192.0.2.2", 400, "ring store: a directory at the ack");
  EXPECT_EQ(a_->counters().drops_for("blocked_name"), 2u);
  EXPECT_EQ(b_->counters().drops_for("blocked_name"), 2u);
}

// The same directories planted before the streams' first records (the
// names follow from the announcements): before, the writer could not make
// its ring and dropped every frame (`write_error`) for as long as the
// directory stayed, and the reader could not make its ack, so the writer's
// ring filled and it gave records up every 5 gap waits.
TEST_P(FsRingAttackTest, DirectoriesPlantedBeforeTheFirstRecordsMakeTheStreamsUseFiles) {
  StartRing([&] {
    MakeNonEmptyDirectory(StreamFile(*a_, *b_, kRingSuffix));
    MakeNonEmptyDirectory(StreamFile(*b_, *a_, kAckSuffix));
  });
  ExpectFlows(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, "ring store: a directory at a new ring");
  ExpectFlows(*b_, "192.0.2.1", *a_, "192.0.2.2", 200, "ring store: a directory at a new ack");
  EXPECT_EQ(a_->counters().drops_for("write_error"), 0u);
  EXPECT_EQ(b_->counters().drops_for("backlog_full"), 0u);
  EXPECT_GE(a_->counters().drops_for("blocked_name"), 1u);
  EXPECT_GE(b_->counters().drops_for("blocked_name"), 1u);
}

// The reader's ack is replaced (a FIFO, then a symlink): both ends hold the
// old one, so acks keep flowing; the reader notices at its next look and
// writes a new one over the name, and the writer reads that.
TEST_P(FsRingAttackTest, EntriesReplacingTheAckCostNothing) {
  StartRing();
  const std::string ack = StreamFile(*a_, *b_, kAckSuffix);
  uint32_t tag = 100;
  for (const char* kind : {"a FIFO", "a symlink"}) {
    const std::string temp = ack + ".attacker";
    if (std::string(kind) == "a FIFO") {
      ASSERT_EQ(mkfifo(temp.c_str(), 0600), 0);
    } else {
      ASSERT_EQ(symlink("/dev/zero", temp.c_str()), 0);
    }
    ASSERT_EQ(rename(temp.c_str(), ack.c_str()), 0);
    RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
    ExpectFlows(*a_, "192.0.2.2", *b_, "192.0.2.1", tag,
                absl::StrCat("ring store: ", kind, " at the ack"));
    tag += 100;
  }
  struct stat st;
  ASSERT_EQ(lstat(ack.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the reader wrote a new ack over it";
  // The writer reads acks again: its backlog empties.
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));
  ASSERT_EQ(a_->peers().size(), 1u);
  EXPECT_EQ(a_->peers()[0].backlog_bytes, 0u);
}

// A flood of ring and ack names that look like streams: the sender's id
// with made-up sessions, and made-up senders. Garbage collection removes
// them: the rings counted once each (`stale_file`, `unknown_sender`), the
// acks without a count (an ack in our inbox is ours to tidy: it holds no
// frames); traffic is not affected.
TEST_P(FsRingAttackTest, FloodOfBogusRingAndAckNamesIsCollected) {
  StartRing();
  const std::string inbox = InboxB();
  int rings = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    const bool known = i % 2 == 0;
    std::string prefix = StreamPrefix(known ? a_->peer_id() : absl::StrCat("192-0-2-", 100 + i),
                                      known ? a_->session() ^ (i + 1) : 0x1000 + i, b_->session());
    prefix.pop_back();
    const bool ring = i % 4 < 2;
    WriteFile(inbox + "/" + prefix + (ring ? kRingSuffix : kAckSuffix), std::string(64, 'x'));
    rings += ring;
  }
  ExpectFlows(*a_, "192.0.2.2", *b_, "192.0.2.1", 100, "ring store: 100 bogus ring/ack names");
  RunFor({a_.get(), b_.get()}, absl::Milliseconds(300));  // a few GC passes
  const CounterSnapshot c = b_->counters();
  EXPECT_EQ(c.drops_for("stale_file") + c.drops_for("unknown_sender"),
            static_cast<uint64_t>(rings));
  size_t left = 0;
  for (const std::string& f : FilesIn(inbox)) {
    if (absl::EndsWith(f, kRingSuffix) || absl::EndsWith(f, kAckSuffix)) ++left;
  }
  EXPECT_EQ(left, 2u) << "only the stream's own ring and ack";
}

}  // namespace
}  // namespace fstun::fs
