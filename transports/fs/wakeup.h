// How an fs transport learns that a peer wrote something.
//
// FolderWatch: one pollable fd (an epoll fd) that combines an inotify watch
// on the inbox folder (when the kernel offers one) with an eventfd that
// Close() signals. It is the transport's one wait_fds() entry (POLLIN), so it is always
// valid even where inotify is missing.
//
// WakeupPacer: inotify fires only for writes made on this kernel; on shared
// folders (bindfs/FUSE views, sshfs, NFS, 9p, vboxsf) the other host's
// writes raise no event. The pacer therefore always keeps a polling
// fallback and decides at run time which path delivers:
//   * "detecting": adaptive polling until the first inotify event naming a
//                  new record (-> inotify) or 4 records read without one
//                  (-> polling).
//   * "inotify":   poll only as a safety net every poll_max. Of each 8
//                  records read, at most 1/4 announced -> polling.
//   * "polling":   of each 8 records read, at least 3/4 announced ->
//                  inotify. Poll every poll_min while traffic flows
//                  (hot_window after the last frame), then back off
//                  geometrically to poll_max, and after deep_idle_after
//                  without traffic to deep_idle_factor * poll_max (at
//                  least deep_idle_min), after asleep_after to
//                  asleep_interval (if longer).
//                  poll_max depends on the filesystem unless given
//                  (ForFilesystem): 1 ms where a look is a round trip to a
//                  daemon on the same host (FUSE, 9p, virtiofs, vboxsf),
//                  5 ms where it is a request over the network to a file
//                  server (NFS, SMB), 2 ms on sshfs (an sshd session that
//                  serves this one mount; long idle as a file server).
//                  Long idle, where one look costs more than poll_max
//                  (OnLook: a slow link, an emulated CPU), deep_idle_factor
//                  times that cost: an idle tunnel spends at most ~1/5 of
//                  the time looking.
// A record counts as announced if an event is in credit when it is read:
// events are read in lumps, and a fast poll may find a renamed file a
// moment before the kernel queues its event, which then comes later. A ring
// (written in place) raises IN_MODIFY, which the kernel merges while unread:
// one event announces every record read from rings until a look finds
// nothing (without that, a busy tmpfs ring flipped to polling). A ring
// record is often read before its event can be: a reader that keeps up
// with a busy writer reads each record as it lands, and the writes' events
// wait for the next drain. Such records count as announced if that drain
// brings a ring event (OnDrained), and no decision is taken while some
// wait for it: before, a tmpfs ring under TCP still flipped to polling and
// back about twice a second, each time a log line.
// The first decision, and every change, is logged once with the folder's
// filesystem type.
#ifndef FSTUN_TRANSPORTS_FS_WAKEUP_H_
#define FSTUN_TRANSPORTS_FS_WAKEUP_H_

#include <array>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/event_fd.h"
#include "sys/unique_fd.h"

namespace fstun::fs {

class FolderWatch {
 public:
  // Watches `path` (a directory) for files renamed into it if
  // `use_inotify`; falls back to the eventfd alone when inotify fails.
  // `also_modified`: count files written in place too (IN_MODIFY: the
  // ring store's slots).
  FolderWatch(const std::string& path, bool use_inotify, bool also_modified = false);
  ~FolderWatch();
  FolderWatch(const FolderWatch&) = delete;
  FolderWatch& operator=(const FolderWatch&) = delete;

  int fd() const { return epoll_fd_.valid() ? epoll_fd_.get() : close_event_.fd(); }
  bool has_inotify() const { return inotify_fd_.valid(); }
  uint32_t mask() const { return mask_; }

  // Reads pending inotify events. Returns how many named new files for
  // which `counts(name)` is true; a queue overflow counts as very many.
  int Drain(absl::FunctionRef<bool(absl::string_view)> counts);
  // Makes fd() readable for good (Close()).
  void SignalClosed() { close_event_.Signal(); }

 private:
  EventFd close_event_;
  UniqueFd inotify_fd_;
  uint32_t mask_ = 0;
  UniqueFd epoll_fd_;
};

struct PacerOptions {
  absl::Duration poll_min = absl::Microseconds(100);
  // THE knob that trades idle cost for latency on the polling path: a
  // tunnel in use looks for records this often (one open of the next record
  // name per peer), so a packet after a pause waits poll_max/2 on average.
  // Zero: by filesystem (ForFilesystem). docs/fs-transport.md section 7 has
  // the measurements.
  absl::Duration poll_max = absl::ZeroDuration();
  // After this long without traffic the tunnel is "long idle" and looks
  // only every deep_idle_factor * max(poll_max, what a look costs), and at
  // least every deep_idle_min: interactive use (a packet every second or
  // so) keeps poll_max; a pause longer than that costs its first packet
  // deep_idle_min/2 more on average (4 ms on a 1 ms share), and a tunnel
  // nobody uses an eighth of the looks.
  absl::Duration deep_idle_after = absl::Milliseconds(1500);
  int deep_idle_factor = 4;
  absl::Duration deep_idle_min = absl::Milliseconds(8);
  // After this long without traffic the tunnel is "asleep": nobody is
  // waiting on it, so it looks at most every asleep_interval (or the long
  // idle interval, if that is longer). On a 1 ms share that is half the
  // long idle cost again; the first packet after such a pause waits
  // asleep_interval/2 more on average.
  absl::Duration asleep_after = absl::Seconds(30);
  absl::Duration asleep_interval = absl::Milliseconds(16);
  absl::Duration hot_window = absl::Milliseconds(20);
  // Once inotify is known to deliver, a poll only guards against a lost
  // event; it comes at the liveness cadence (the heartbeat wakes us anyway),
  // so an idle tunnel wakes once a second and no more.
  absl::Duration inotify_safety_net = absl::Seconds(1);
};

// `o` with poll_max chosen for a folder of filesystem `fs_type` (mountinfo's
// type, e.g. "fuse.sshfs", "nfs4", "cifs") if it is zero: 5 ms on NFS and
// SMB, 2 ms on sshfs (and deep_idle_min 20 ms: idle, it looks as rarely as
// on NFS), 1 ms elsewhere.
PacerOptions ForFilesystem(PacerOptions o, absl::string_view fs_type);

class WakeupPacer {
 public:
  enum class Path { kDetecting, kInotify, kPolling };

  // `label` names the folder in logs, e.g. "/mnt/share (fuse)".
  WakeupPacer(PacerOptions options, std::string label, bool inotify_available);

  // Traffic moved (a frame sent or received) at `now`.
  void OnActivity(absl::Time now) { last_activity_ = now; }
  // `n` inotify events naming new files were read.
  void OnEvents(int n);
  // Events naming ring files (written in place, IN_MODIFY) were read. The
  // kernel merges a ring's events while they wait to be read, so one event
  // may stand for many records: every record read from a ring counts as
  // announced until a look finds nothing more (OnCaughtUp).
  void OnRingEvents();
  // A record was found and read (`in_ring`: from a ring file).
  void OnFileFound(bool in_ring = false);
  // A look found no record: a ring's next record needs an event of its own.
  void OnCaughtUp() { ring_events_ = false; }
  // The inotify queue was read (after OnEvents and OnRingEvents of that
  // read): ring records read before it that no ring event announced are not
  // announced, and a path decision they held back is taken.
  void OnDrained();
  // A look for records that found none took `cost` (wall time).
  void OnLook(absl::Duration cost);
  // Recomputes interval() (after each Receive or Send).
  void Update(absl::Time now);

  absl::Duration interval() const { return interval_; }
  // What a look that finds nothing costs (median of the last 9).
  absl::Duration look_cost() const { return look_cost_; }
  Path path() const { return path_; }
  const char* path_name() const;

 private:
  void SetPath(Path p, const char* why);
  // Decides the path once a window of records is counted.
  void Decide();

  const PacerOptions options_;
  const std::string label_;
  const bool inotify_available_;
  Path path_ = Path::kDetecting;
  int files_ = 0;             // records read in the current window
  int announced_ = 0;         // of which an event named (see credit_)
  int credit_ = 0;            // events not yet matched to a record read
  bool ring_events_ = false;  // a ring event read since the last look that found nothing
  int owed_ring_ = 0;         // ring records read since the last drain, not announced
  absl::Time last_activity_ = absl::InfinitePast();
  static constexpr size_t kLooksKept = 9;
  std::array<absl::Duration, kLooksKept> recent_looks_{};
  size_t next_look_ = 0;
  absl::Duration look_cost_ = absl::ZeroDuration();  // median of recent_looks_
  absl::Duration interval_;
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_WAKEUP_H_
