// The wake-up pacer decides inotify or polling from what it sees, and
// paces polls fast while traffic flows, slowly when idle.
#include "transports/fs/wakeup.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace fstun::fs {
namespace {

PacerOptions Options() {
  PacerOptions o;
  o.poll_min = absl::Microseconds(100);
  o.poll_max = absl::Milliseconds(200);
  o.hot_window = absl::Milliseconds(20);
  return o;
}

TEST(WakeupPacer, FilesWithEventsMeanInotify) {
  WakeupPacer p(Options(), "test", /*inotify_available=*/true);
  EXPECT_EQ(p.path(), WakeupPacer::Path::kDetecting);
  // Events may come a little after the file (a fast poll found it first).
  p.OnFileFound();
  p.OnEvents(1);
  EXPECT_EQ(p.path(), WakeupPacer::Path::kInotify);
  // Stays while events keep coming about as often as files.
  for (int i = 0; i < 16; ++i) {
    p.OnFileFound();
    if (i % 5 != 0) p.OnEvents(1);
  }
  EXPECT_EQ(p.path(), WakeupPacer::Path::kInotify);
  p.Update(absl::Now());
  EXPECT_EQ(p.interval(), absl::Seconds(1)) << "only a safety net, at the liveness cadence";
}

TEST(WakeupPacer, EventsReadInALumpStillCountForLaterFiles) {
  WakeupPacer p(Options(), "test", true);
  for (int round = 0; round < 10; ++round) {
    p.OnEvents(16);                                // one drain returns the events of 16 records ...
    for (int i = 0; i < 16; ++i) p.OnFileFound();  // ... read over 16 calls
    EXPECT_EQ(p.path(), WakeupPacer::Path::kInotify) << round;
  }
}

TEST(WakeupPacer, FilesWithoutEventsMeanPolling) {
  WakeupPacer p(Options(), "test", true);
  for (int i = 0; i < 4; ++i) p.OnFileFound();
  EXPECT_EQ(p.path(), WakeupPacer::Path::kPolling);
  // And back when events start to come (e.g. the writer moved hosts),
  // after at most two full windows.
  for (int i = 0; i < 16; ++i) {
    p.OnEvents(1);
    p.OnFileFound();
  }
  EXPECT_EQ(p.path(), WakeupPacer::Path::kInotify);
}

TEST(WakeupPacer, NoInotifyMeansPollingFromTheStart) {
  WakeupPacer p(Options(), "test", false);
  EXPECT_EQ(p.path(), WakeupPacer::Path::kPolling);
  for (int i = 0; i < 8; ++i) {
    p.OnEvents(1);
    p.OnFileFound();
  }
  EXPECT_EQ(p.path(), WakeupPacer::Path::kPolling);
}

TEST(WakeupPacer, PollsFastWhileHotThenBacksOffToTheMaximum) {
  WakeupPacer p(Options(), "test", false);
  absl::Time t = absl::Now();
  p.OnActivity(t);
  p.Update(t + absl::Milliseconds(10));
  EXPECT_EQ(p.interval(), absl::Microseconds(100));
  absl::Duration last = p.interval();
  for (int i = 0; i < 30; ++i) {
    p.Update(t + absl::Milliseconds(30 + i));
    EXPECT_GE(p.interval(), last);
    last = p.interval();
  }
  EXPECT_EQ(p.interval(), absl::Milliseconds(200));
  p.OnActivity(t + absl::Seconds(1));
  p.Update(t + absl::Seconds(1));
  EXPECT_EQ(p.interval(), absl::Microseconds(100));
}

TEST(WakeupPacer, LongIdleBacksOffFurtherAndTrafficBringsItBack) {
  const PacerOptions o = ForFilesystem(PacerOptions(), "fuse");  // 1 ms; 8 ms after 1.5 s
  WakeupPacer p(o, "test", false);
  absl::Time t = absl::Now();
  p.OnActivity(t);
  for (int i = 1; i <= 28; ++i) p.Update(t + absl::Milliseconds(50 * i));  // 1.4 s
  EXPECT_EQ(p.interval(), o.poll_max) << "a packet a second or so keeps poll_max";
  for (int i = 1; i <= 10; ++i) p.Update(t + absl::Seconds(2) + absl::Milliseconds(50 * i));
  EXPECT_EQ(p.interval(), absl::Milliseconds(8))
      << "a pause: at least deep_idle_min, where 4 x poll_max is less";
  p.OnActivity(t + absl::Seconds(4));
  p.Update(t + absl::Seconds(4));
  EXPECT_EQ(p.interval(), o.poll_min);
}

TEST(WakeupPacer, AnAsleepTunnelLooksAtMostEveryAsleepInterval) {
  const PacerOptions o = ForFilesystem(PacerOptions(), "fuse");  // 1 ms: 8 ms, then 16 ms
  WakeupPacer p(o, "test", false);
  absl::Time t = absl::Now();
  p.OnActivity(t);
  for (int i = 1; i <= 20; ++i) p.Update(t + absl::Seconds(29) + absl::Milliseconds(10 * i));
  EXPECT_EQ(p.interval(), o.deep_idle_min) << "29 s: long idle";
  for (int i = 1; i <= 20; ++i) p.Update(t + absl::Seconds(30) + absl::Milliseconds(10 * i));
  EXPECT_EQ(p.interval(), o.asleep_interval) << "30 s: asleep";
  p.OnActivity(t + absl::Seconds(40));
  p.Update(t + absl::Seconds(40));
  EXPECT_EQ(p.interval(), o.poll_min) << "traffic wakes it";

  // Where long idle already looks less often (a file server), asleep changes nothing.
  const PacerOptions nfs = ForFilesystem(PacerOptions(), "nfs");  // 5 ms: 20 ms
  WakeupPacer q(nfs, "test", false);
  q.OnActivity(t);
  for (int i = 1; i <= 20; ++i) q.Update(t + absl::Seconds(60) + absl::Milliseconds(10 * i));
  EXPECT_EQ(q.interval(), nfs.poll_max * nfs.deep_idle_factor);
}

TEST(WakeupPacer, OneRingEventAnnouncesTheRecordsReadUntilCaughtUp) {
  WakeupPacer p(ForFilesystem(PacerOptions(), "tmpfs"), "test", true);
  for (int burst = 0; burst < 4; ++burst) {
    p.OnRingEvents();  // the kernel merged the burst's IN_MODIFY events
    for (int i = 0; i < 10; ++i) p.OnFileFound(/*in_ring=*/true);
    p.OnCaughtUp();
  }
  EXPECT_EQ(p.path(), WakeupPacer::Path::kInotify);
  // Ring records after the look that found nothing, with no new event by
  // the next drain: not announced (another kernel's writes).
  for (int i = 0; i < 8; ++i) p.OnFileFound(/*in_ring=*/true);
  p.OnDrained();
  EXPECT_EQ(p.path(), WakeupPacer::Path::kPolling);
  // A ring event does not announce record files (each has its own event).
  p.OnRingEvents();
  for (int i = 0; i < 8; ++i) p.OnFileFound(/*in_ring=*/false);
  EXPECT_EQ(p.path(), WakeupPacer::Path::kPolling);
}

TEST(WakeupPacer, RingRecordsReadBeforeTheirEventCountAsAnnounced) {
  WakeupPacer p(ForFilesystem(PacerOptions(), "tmpfs"), "test", true);
  p.OnRingEvents();
  p.OnDrained();
  p.OnFileFound(/*in_ring=*/true);
  ASSERT_EQ(p.path(), WakeupPacer::Path::kInotify);
  // TCP on one kernel: a Receive that found nothing, then one whose drain
  // brought nothing and that reads 24 records chasing the writer (each
  // read before its write's event is queued), then the drain that brings
  // their one merged event.
  for (int round = 0; round < 5; ++round) {
    p.OnCaughtUp();
    p.OnDrained();
    for (int i = 0; i < 24; ++i) p.OnFileFound(/*in_ring=*/true);
    p.OnRingEvents();
    p.OnDrained();
    EXPECT_EQ(p.path(), WakeupPacer::Path::kInotify) << round;
  }
  // Ring records that no event follows (another kernel's writes) still
  // mean polling.
  for (int i = 0; i < 8; ++i) {
    p.OnDrained();
    p.OnFileFound(/*in_ring=*/true);
    p.OnCaughtUp();
  }
  p.OnDrained();
  EXPECT_EQ(p.path(), WakeupPacer::Path::kPolling);
}

TEST(WakeupPacer, PollsFileServersLessOftenUnlessTold) {
  const PacerOptions defaults;
  EXPECT_EQ(ForFilesystem(defaults, "fuse").poll_max, absl::Milliseconds(1));
  EXPECT_EQ(ForFilesystem(defaults, "9p").poll_max, absl::Milliseconds(1));
  EXPECT_EQ(ForFilesystem(defaults, "nfs").poll_max, absl::Milliseconds(5));
  EXPECT_EQ(ForFilesystem(defaults, "nfs4").poll_max, absl::Milliseconds(5));
  EXPECT_EQ(ForFilesystem(defaults, "cifs").poll_max, absl::Milliseconds(5));
  EXPECT_EQ(ForFilesystem(defaults, "fuse.sshfs").poll_max, absl::Milliseconds(2));
  EXPECT_EQ(ForFilesystem(defaults, "virtiofs").poll_max, absl::Milliseconds(1));
  PacerOptions told;
  told.poll_max = absl::Milliseconds(20);
  EXPECT_EQ(ForFilesystem(told, "nfs4").poll_max, absl::Milliseconds(20));
  EXPECT_EQ(ForFilesystem(told, "fuse").poll_max, absl::Milliseconds(20));
  PacerOptions slow_min;
  slow_min.poll_min = absl::Milliseconds(3);
  EXPECT_EQ(ForFilesystem(slow_min, "fuse").poll_max, absl::Milliseconds(3));
}

TEST(WakeupPacer, SshfsLooksOftenInUseAndAsRarelyAsAFileServerWhenIdle) {
  // In use every 2 ms (a person waits for the reply); long idle and asleep
  // every 20 ms, as on NFS: an idle tunnel costs ssh and sshd no more.
  const PacerOptions o = ForFilesystem(PacerOptions(), "fuse.sshfs");
  const PacerOptions nfs = ForFilesystem(PacerOptions(), "nfs4");
  for (absl::Duration cost : {absl::Microseconds(400), absl::Milliseconds(3)}) {
    WakeupPacer p(o, "test", false);
    WakeupPacer q(nfs, "test", false);
    absl::Time t = absl::Now();
    for (int i = 0; i < 9; ++i) p.OnLook(cost), q.OnLook(cost);
    p.OnActivity(t);
    q.OnActivity(t);
    for (int i = 1; i <= 28; ++i) p.Update(t + absl::Milliseconds(50 * i));  // 1.4 s
    EXPECT_EQ(p.interval(), absl::Milliseconds(2)) << "in use";
    for (absl::Duration at : {absl::Seconds(3), absl::Seconds(40)}) {
      for (int i = 1; i <= 10; ++i) {
        p.Update(t + at + absl::Milliseconds(50 * i));
        q.Update(t + at + absl::Milliseconds(50 * i));
      }
      EXPECT_EQ(p.interval(), q.interval()) << "idle " << at << ", a look costing " << cost;
      EXPECT_GE(p.interval(), absl::Milliseconds(20));
    }
  }
}

// Backs off from a hot start until the interval stops growing.
absl::Duration IdleInterval(WakeupPacer& p, absl::Time t) {
  p.OnActivity(t);
  for (int i = 1; i <= 40; ++i) p.Update(t + absl::Milliseconds(30 + 10 * i));
  return p.interval();
}

TEST(WakeupPacer, SlowLooksAreSpacedByWhatTheyCostOnlyWhenLongIdle) {
  const PacerOptions o = ForFilesystem(PacerOptions(), "nfs4");  // 5 ms, x4 after 1.5 s
  WakeupPacer p(o, "test", false);
  absl::Time t = absl::Now();
  // A share behind a slow link, or an emulated CPU: each look 8 ms.
  for (int i = 0; i < 50; ++i) p.OnLook(absl::Milliseconds(8));
  // In use, the look cost does not slow the looks: a person waits.
  EXPECT_EQ(IdleInterval(p, t), o.poll_max);
  // Long idle: 4 x the look's cost (32 ms), not 4 x poll_max (20 ms).
  for (int i = 1; i <= 10; ++i) p.Update(t + absl::Seconds(3) + absl::Milliseconds(50 * i));
  EXPECT_EQ(p.interval(), absl::Milliseconds(32));
  // Looks cheaper than poll_max leave the long-idle step as it was.
  WakeupPacer q(o, "test", false);
  for (int i = 0; i < 50; ++i) q.OnLook(absl::Microseconds(300));
  q.OnActivity(t);
  for (int i = 1; i <= 80; ++i) q.Update(t + absl::Seconds(3) + absl::Milliseconds(10 * i));
  EXPECT_EQ(q.interval(), o.poll_max * o.deep_idle_factor);
  // Looks delayed by a busy moment (fewer than half) do not stretch it.
  for (int i = 0; i < 4; ++i) q.OnLook(absl::Milliseconds(100));
  q.Update(t + absl::Seconds(5));
  EXPECT_EQ(q.interval(), o.poll_max * o.deep_idle_factor);
  // Traffic gets the fast polls at once, however slow a look is.
  p.OnActivity(t + absl::Seconds(6));
  p.Update(t + absl::Seconds(6));
  EXPECT_EQ(p.interval(), o.poll_min);
}

}  // namespace
}  // namespace fstun::fs
