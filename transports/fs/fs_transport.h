// FsTransport: IP frames through a shared folder (--transport=fs).
//
// Each peer announces itself in DIR/peers/<id>.peer (its addresses, role,
// offloads, MTU) and owns an inbox DIR/inbox/<id>/. The core routes: the
// transport reports each live peer's announcement through the PeerObserver
// (core/peer.h), and Send(to, frames) writes the frames for peer `to` as
// ONE record file into its inbox: written under a temp name, then renamed to "<me>.<my
// session>.<its session>.<seq>.rec". The receiver opens the next name it expects directly (no
// directory listing), checks the record, delivers its frames in order and deletes the file. The
// sender learns from the file's disappearance that it was consumed, which bounds its backlog
// (--fs_max_backlog_bytes, per destination).
//
// docs/fs-transport.md is the full specification: layout, format, who
// creates and deletes what, the peer state machine, and measurements.
//
// FsTransport itself only orchestrates; each job has its own file:
//   folder.h           set-up of DIR/peers, DIR/inbox/<me>; the session id
//   folder_profile.h   what the folder's filesystem needs to show new files
//   peer_table.h       announcements, discovery, doorbells, liveness, routes
//   outbound_stream.h  records me -> one peer, and the backlog they form
//   inbound_stream.h   records one peer -> me: order, gaps, invalid files
//   inbox_collector.h  garbage collection of the own inbox
//   wakeup.h           inotify + adaptive polling
// The data path, top to bottom: Send hands the frames for one peer (the
// core routed and adapted them) to that peer's OutboundStream; Receive
// reads the InboundStreams in turn, one peer per call. Periodic work
// (heartbeat, peer scan, reclaiming consumed records, garbage collection)
// runs from Receive when due, never from Send, and in a quiet moment: from
// a call that found nothing, once no frame has moved for the pacer's hot
// window (a reply usually follows within it, and must not wait behind the
// work: on the responder the reply is on the TUN while Receive runs), the
// pump woken for it then; or first, under traffic that never pauses, once
// it is kHousekeepingSlack overdue.
//
//   FsTransportOptions o;
//   o.dirpath = "/mnt/share"; o.addresses = {...}; o.mtu = 1400;
//   absl::StatusOr<std::unique_ptr<FsTransport>> t = FsTransport::Create(o);
//
// Threading: the pump calls Send/Receive from one thread; counters(),
// peers() and Close() may be called from any thread.
#ifndef FSTUN_TRANSPORTS_FS_FS_TRANSPORT_H_
#define FSTUN_TRANSPORTS_FS_FS_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/ip_address.h"
#include "core/link_auth.h"
#include "core/registry.h"
#include "core/transport.h"
#include "transports/fs/folder.h"
#include "transports/fs/folder_profile.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/inbox_collector.h"
#include "transports/fs/peer_table.h"
#include "transports/fs/wakeup.h"

namespace fstun::fs {

struct FsTransportOptions {
  std::string dirpath;              // the shared folder; must exist
  std::string peer_id;              // empty: derived from the first address
  std::string role;                 // "server", "client" or ""
  std::vector<IpPrefix> addresses;  // announced; others route to us by them
  size_t mtu = 1500;
  // Frames start with a virtio_net_hdr and may be GSO super-packets
  // (TransportConfig::offload_frames): carried unchanged to peers that
  // announce the same, segmented (vnet/gso.h) for peers that do not.
  bool carry_gso_frames = false;
  // The user the daemon switches to after set-up (--user): the folders this
  // peer creates or owns at start are given to it, or it could not write
  // them once root is gone.
  std::optional<TransportConfig::FileOwner> file_owner;
  // Owner-only (default) or group-shared folders and files (--fs_group).
  FolderAccess access;
  // Bytes of unconsumed records this peer may leave in one destination's
  // inbox; beyond it frames are dropped ("backlog_full").
  size_t max_backlog_bytes = 32 << 20;
  // Largest record file written; a bigger batch is split.
  size_t max_file_bytes = 1 << 20;
  // Records to a peer at most this often: frames that come sooner after the
  // last record are held and written together (OutboundStream; zero: off).
  // Only towards peers where a record costs round trips: this end's or the
  // peer's folder is served by another kernel (FolderProfile::remote, the
  // peer's remote=1), unless `coalesce_local`. A transport that is only
  // sent on, never received on, writes held frames only at its next Send.
  absl::Duration coalesce_max = absl::ZeroDuration();
  bool coalesce_local = false;
  // --fs_store=ring: records between two peers that both announce it go
  // into one ring file per stream instead of a file each (section 14).
  bool ring_store = false;
  PacerOptions pacer;
  bool use_inotify = true;
  absl::Duration heartbeat = absl::Seconds(1);
  // A peer whose beat has not changed for this long is gone.
  absl::Duration peer_timeout = absl::Seconds(10);
  // How long a missing record may hold up later ones before it is skipped.
  absl::Duration gap_wait = absl::Seconds(1);
  // How long an invalid record is retried before it is removed.
  absl::Duration bad_file_wait = absl::Seconds(1);
  // How often the inbox is listed to remove stale and foreign files.
  absl::Duration gc_interval = absl::Seconds(2);
  // Discover peers by listing DIR/peers (false: only by the doorbell; for
  // tests of folders whose listings are stale).
  bool list_peers = true;
  // Keyed (TransportConfig::link_auth): records and announcements are
  // tagged, and nothing untagged steers the transport (docs/fs-transport.md
  // section 9). Null: unkeyed.
  std::shared_ptr<const LinkAuthenticator> link_auth;
};

// Drop reasons (counters().drops). Frame-level: backlog_full, no_route
// (the peer went away after the core routed to it), write_error,
// peer_restarted, peer_gone, frame_too_large, ring_stalled (the ring
// store's reader did not move for 5 gap waits while its ring was full). File-level (count files):
// not_regular, oversize_file, truncated, bad_magic, bad_version,
// bad_header, trailing_bytes, frame_too_large, bad_checksum, stale_file,
// unknown_sender, ignored_name, late_record, blocked_name (a record name
// occupied by something nobody can remove; sender and reader count it).
// Keyed only: bad_record_auth, bad_announcement_auth, replayed_announcement,
// peer_not_accepted (each once per file or peer).
// Sequence numbers skipped: gap. Events: far_jump, jump_undone,
// session_flip, extra_server, peer_table_full (docs/fs-transport.md 8).
class FsTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<FsTransport>> Create(FsTransportOptions options);
  ~FsTransport() override;

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<WaitFd, 2> wait_fds() const override;
  absl::Duration poll_interval() const override;
  size_t mtu() const override { return options_.mtu; }
  TransportCapabilities capabilities() const override;
  SyscallNeeds syscalls() const override;
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  std::vector<PeerStatus> peers() const override;
  void Close() override;

  const std::string& peer_id() const { return options_.peer_id; }
  uint64_t session() const { return folder_->session(); }
  // "inotify", "polling" or "detecting".
  std::string wakeup_path() const;

 private:
  FsTransport(FsTransportOptions options, std::unique_ptr<FsFolder> folder, FolderProfile profile);

  // Heartbeat, peer scan, reclaiming and garbage collection, when due.
  // Does what periodic work is due; true if a scan changed the peers.
  bool Housekeeping(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the next periodic work is due.
  absl::Time NextHousekeeping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True if the peers changed (a newcomer, a restart, one gone).
  bool ScanPeers(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the periodic work if due and the tunnel has been quiet for the hot
  // window (if it is due before that, PublishInterval asks the pump back
  // for the quiet moment).
  void HousekeepingIfQuiet(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the hot window after the last frame ends: from then on it is a
  // quiet moment.
  absl::Time QuietAt() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return traffic_at_ + options_.pacer.hot_window;
  }
  // A frame went or came at `now`: traffic_at_, and hot_since_ if it ends a
  // quiet moment.
  void NoteTraffic(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishInterval(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells the observer about live peers that came, changed or went.
  void ReportPeers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The id of the one live peer reported as the server, or "".
  std::string ChooseServer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FsTransportOptions options_;
  const std::unique_ptr<FsFolder> folder_;
  const FolderProfile profile_;
  const OutboundConfig out_config_;
  const InboundConfig in_config_;
  std::unique_ptr<FolderWatch> watch_;
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> interval_ns_{0};  // poll_interval(), read without the lock
  Counters counters_;

  mutable absl::Mutex mu_;
  PeerTable peers_ ABSL_GUARDED_BY(mu_);
  InboxCollector collector_ ABSL_GUARDED_BY(mu_);
  WakeupPacer pacer_ ABSL_GUARDED_BY(mu_);
  // The last Receive stopped early (batch full, or a gap was skipped).
  bool more_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;       // some stream holds frames
  size_t next_reader_ ABSL_GUARDED_BY(mu_) = 0;  // round robin over streams
  // When each periodic job is due next.
  absl::Time next_beat_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_scan_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_reclaim_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_doorbell_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_gc_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The last frame sent or received (periodic work waits for the hot
  // window after it), and the first of the frames since the last quiet
  // moment (NoteTraffic).
  absl::Time traffic_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time hot_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  PeerObserver* observer_ ABSL_GUARDED_BY(mu_) = nullptr;
  // What the observer was last told, per live peer.
  std::vector<PeerInfo> reported_ ABSL_GUARDED_BY(mu_);
  // The server: the first peer reported as such, the current one, and the
  // other claimants already counted (ChooseServer).
  std::string first_server_ ABSL_GUARDED_BY(mu_);
  absl::Time first_server_seen_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string server_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> extra_servers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_FS_TRANSPORT_H_
