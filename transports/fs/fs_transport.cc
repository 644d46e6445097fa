#include "transports/fs/fs_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/send_checks.h"
#include "glog/logging.h"
#include "sys/unique_fd.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"
#include "transports/fs/ring_file.h"

namespace fstun::fs {
namespace {

// How often records we wrote are checked for having been consumed (the
// backlog shown by peers(); a write near the cap also checks at once).
constexpr absl::Duration kReclaimInterval = absl::Milliseconds(50);
// How often the own doorbell is looked at between scans: a newcomer (or a
// peer just restarted) is read within this, not at the next heartbeat, so
// its first packets are not held up to a second.
constexpr absl::Duration kDoorbellInterval = absl::Milliseconds(50);
// Periodic work waits for a quiet moment (HousekeepingIfQuiet: frames go to
// the device first), at most this long of frames that keep coming.
constexpr absl::Duration kHousekeepingSlack = absl::Milliseconds(100);

absl::Status CheckOptions(FsTransportOptions& options) {
  if (options.dirpath.empty()) {
    return absl::InvalidArgumentError("fs: --dirpath is required (the shared folder)");
  }
  if (options.mtu < 68 || options.mtu > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("fs: MTU ", options.mtu, " out of range"));
  }
  if (options.peer_id.empty()) {
    if (options.addresses.empty()) {
      return absl::InvalidArgumentError("fs: --fs_peer_id is required when no --ip is given");
    }
    options.peer_id = SanitizeId(options.addresses[0].address.ToString());
  }
  if (!IsValidPeerId(options.peer_id)) {
    return absl::InvalidArgumentError(absl::StrCat("fs: peer id '", options.peer_id,
                                                   "' must be 1-64 characters of [A-Za-z0-9_-]"));
  }
  const size_t one_frame =
      RecordSize(options.peer_id.size(), 1, options.carry_gso_frames ? kMaxFrameSize : options.mtu,
                 options.link_auth != nullptr);
  if (options.max_file_bytes < one_frame || options.max_file_bytes > kMaxRecordBytes / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: max file bytes must be in [", one_frame, ", ", kMaxRecordBytes / 2, "]"));
  }
  if (options.max_backlog_bytes < one_frame) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: --fs_max_backlog_bytes must be at least ", one_frame));
  }
  // The heartbeat wakes us anyway: the inotify path's safety-net poll rides
  // on it instead of adding wake-ups of its own.
  options.pacer.inotify_safety_net = options.heartbeat;
  return absl::OkStatus();
}

OutboundConfig MakeOutboundConfig(const FsTransportOptions& o, const FsFolder& folder,
                                  const FolderProfile& profile) {
  OutboundConfig c;
  c.my_id = o.peer_id;
  c.my_session = folder.session();
  c.max_file_bytes = o.max_file_bytes;
  c.max_backlog_bytes = o.max_backlog_bytes;
  c.access = o.access;
  c.coalesce_max = o.coalesce_max;
  c.keyed = o.link_auth != nullptr;
  c.ring_io = ChooseRingIo(profile);
  c.ring_geometry = RingGeometryFor(o.max_file_bytes, o.max_backlog_bytes);
  c.ring_stall = 5 * o.gap_wait;
  c.ring_resync_wait = o.gap_wait;
  return c;
}

InboundConfig MakeInboundConfig(const FsTransportOptions& o, const FsFolder& folder,
                                const FolderProfile& profile) {
  InboundConfig c;
  c.profile = &profile;
  c.inbox_fd = folder.inbox_fd();
  c.my_session = folder.session();
  c.mtu = o.mtu;
  c.carry_gso_frames = o.carry_gso_frames;
  c.gap_wait = o.gap_wait;
  c.bad_file_wait = o.bad_file_wait;
  c.auth = o.link_auth.get();
  c.my_id = o.peer_id;
  c.ring_io = ChooseRingIo(profile);
  c.access = o.access;
  return c;
}

PeerTableConfig MakePeerTableConfig(const FsTransportOptions& o, const FolderProfile& profile) {
  PeerTableConfig c;
  c.remote = profile.remote;
  c.ring = o.ring_store;
  c.role = o.role;
  c.addresses = o.addresses;
  c.mtu = o.mtu;
  c.offload = o.carry_gso_frames;
  c.peer_timeout = o.peer_timeout;
  c.list_peers = o.list_peers;
  c.auth = o.link_auth.get();
  return c;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FsTransport>> FsTransport::Create(FsTransportOptions options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  // Before anything is created: a mount that cannot work is refused with
  // the remount advice, never run with silent 100% loss.
  {
    UniqueFd fd(open(options.dirpath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    FolderProfile probe = DetectFolderProfile(options.dirpath, fd.get());
    if (!probe.refusal.empty()) return absl::FailedPreconditionError(probe.refusal);
  }
  absl::StatusOr<std::unique_ptr<FsFolder>> folder =
      FsFolder::Open(options.dirpath, options.peer_id, options.access, options.file_owner);
  if (!folder.ok()) return folder.status();
  FolderProfile profile = DetectFolderProfile(options.dirpath, (*folder)->inbox_fd());
  std::unique_ptr<FsTransport> t(
      new FsTransport(std::move(options), *std::move(folder), std::move(profile)));
  LOG(INFO) << "fs: peer " << t->options_.peer_id << " session " << Hex16(t->session()) << " in "
            << t->options_.dirpath << ", inotify "
            << (t->watch_->has_inotify() ? "watching" : "unavailable");
  LOG(INFO) << "fs: " << t->options_.dirpath << " is " << t->profile_.Describe();
  if (t->options_.ring_store) {
    LOG(INFO) << "fs: ring store offered (--fs_store=ring, the default): towards peers that "
                 "announce it too, "
                 "one ring file per stream, opened with a "
              << RingIoName(ChooseRingIo(t->profile_)) << " here";
  }
  if (t->options_.link_auth != nullptr) {
    LOG(INFO) << "fs: keyed: records and announcements are authenticated (identity "
              << t->options_.link_auth->identity() << ")";
  }
  {
    absl::MutexLock lock(&t->mu_);
    t->Housekeeping(absl::Now());
  }
  return t;
}

FsTransport::FsTransport(FsTransportOptions options, std::unique_ptr<FsFolder> folder,
                         FolderProfile profile)
    : options_(std::move(options)),
      folder_(std::move(folder)),
      profile_(std::move(profile)),
      out_config_(MakeOutboundConfig(options_, *folder_, profile_)),
      in_config_(MakeInboundConfig(options_, *folder_, profile_)),
      watch_(std::make_unique<FolderWatch>(folder_->inbox_path(), options_.use_inotify,
                                           options_.ring_store)),
      peers_(*folder_, MakePeerTableConfig(options_, profile_), out_config_, in_config_),
      collector_(*folder_, options_.mtu, in_config_),
      pacer_(ForFilesystem(options_.pacer, profile_.type),
             absl::StrCat(options_.dirpath, " (", profile_.type, ")"), watch_->has_inotify()) {
  interval_ns_.store(absl::ToInt64Nanoseconds(pacer_.interval()));
}

FsTransport::~FsTransport() { Close(); }

TransportCapabilities FsTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.carry_gso_frames;
  return caps;
}

absl::Duration FsTransport::poll_interval() const {
  return absl::Nanoseconds(interval_ns_.load(std::memory_order_relaxed));
}

std::string FsTransport::wakeup_path() const {
  absl::MutexLock lock(&mu_);
  return pacer_.path_name();
}

void FsTransport::PublishInterval(absl::Time now) {
  absl::Duration d = pacer_.interval();
  // Held frames go when the peer takes its last record: look soon.
  if (held_) d = std::min(d, options_.pacer.poll_min);
  // Periodic work waits for a quiet moment: come back then.
  const absl::Time quiet_at = QuietAt();
  if (now >= NextHousekeeping() && now < quiet_at) d = std::min(d, quiet_at - now);
  interval_ns_.store(more_ready_ ? 0 : absl::ToInt64Nanoseconds(d), std::memory_order_relaxed);
}

absl::InlinedVector<WaitFd, 2> FsTransport::wait_fds() const { return {{watch_->fd(), POLLIN}}; }

// The system calls Send, Receive and the periodic work make after set-up
// (the seccomp filter allows these and the core's own; security/).
SyscallNeeds FsTransport::syscalls() const {
  SyscallNeeds n;
  n.syscalls = {// Records: WriteRecordFile; announcements and doorbells:
                // sys/atomic_write.h (getrandom for the temp names, openat,
                // writev, fchmod, fchown for --fs_group, renameat), ReadRegularFile and
                // ReadNamed (openat, fstat, read/pread), Exists/lookups past
                // negative caches (newfstatat, statx with AT_STATX_FORCE_SYNC),
                // consumed and stale records (unlinkat), a restarted peer's inbox
                // (mkdirat), FolderProfile (fstatfs); the ring store (section 14:
                // ring_file.h) sizes its file once per stream (ftruncate), reads
                // and writes in place (pread64, pwritev, pwrite64; on NFS pushed to
                // the server with sync_file_range, fdatasync where that is refused)
                // and gives a gone reader's space back (fallocate).
                "openat", "open", "read", "pread64", "preadv", "write", "writev", "pwrite64",
                "pwritev", "fstat", "newfstatat", "statx", "fstatfs", "statfs", "renameat",
                "renameat2", "rename", "unlinkat", "unlink", "mkdirat", "mkdir", "fchmod", "fchown",
                "ftruncate", "fallocate", "sync_file_range", "fdatasync", "getrandom",
                // Listing peers and the inbox (ListDir: peer scan, garbage collection).
                "getdents64",
                // FolderWatch (wakeup.cc): inotify on the inbox.
                "inotify_init1", "inotify_add_watch", "inotify_rm_watch"};
  return n;
}

void FsTransport::SetPeerObserver(PeerObserver* observer) {
  absl::MutexLock lock(&mu_);
  observer_ = observer;
  reported_.clear();
  ReportPeers();
}

void FsTransport::ReportPeers() {
  if (observer_ == nullptr) return;
  const std::string server = ChooseServer();
  std::vector<PeerInfo> now;
  for (const auto& p : peers_.peers()) {
    if (!p->live) continue;
    PeerInfo info;
    info.id = p->id;
    info.prefixes = p->ann.addresses;
    info.is_server = p->id == server;
    info.takes_vnet = p->ann.offload;
    info.mtu = p->ann.mtu;
    now.push_back(std::move(info));
  }
  auto same = [](const PeerInfo& a, const PeerInfo& b) {
    return a.id == b.id && a.prefixes == b.prefixes && a.is_server == b.is_server &&
           a.takes_vnet == b.takes_vnet && a.mtu == b.mtu;
  };
  for (const PeerInfo& old : reported_) {
    if (std::none_of(now.begin(), now.end(), [&](const PeerInfo& i) { return i.id == old.id; })) {
      observer_->PeerDown(old.id);
    }
  }
  for (const PeerInfo& info : now) {
    if (std::none_of(reported_.begin(), reported_.end(),
                     [&](const PeerInfo& old) { return same(old, info); })) {
      observer_->PeerUp(info);
    }
  }
  reported_ = std::move(now);
}

// Unkeyed, anyone who writes the folder can announce role=server. Which
// peer is the server (a client's default route) is therefore decided here
// and kept: the first peer seen with the role whenever it is live (also
// after it restarted, or left and came back); while it is away, for up to
// twice the peer timeout (a restart), nobody else; after that the one
// chosen since, else the only live peer with the role. Other claims are
// counted and logged once each (`extra_server`); two claims at once with
// neither known before: no server until one stops beating.
std::string FsTransport::ChooseServer() {
  const absl::Time now = absl::Now();
  std::vector<const Peer*> claims;
  for (const auto& p : peers_.peers()) {
    if (p->live && p->ann.role == "server") claims.push_back(p.get());
  }
  auto claims_it = [&](const std::string& id) {
    return !id.empty() &&
           std::any_of(claims.begin(), claims.end(), [&](const Peer* p) { return p->id == id; });
  };
  std::string chosen;
  if (claims_it(first_server_)) {
    chosen = first_server_;
    first_server_seen_ = now;
  } else if (!first_server_.empty() && now - first_server_seen_ < 2 * options_.peer_timeout) {
    // Away for a restart, perhaps: nobody else takes its place yet.
  } else if (claims_it(server_)) {
    chosen = server_;
  } else if (claims.size() == 1) {
    chosen = claims[0]->id;
  }
  if (first_server_.empty() && !chosen.empty()) {
    first_server_ = chosen;
    first_server_seen_ = now;
  }
  if (!chosen.empty() && chosen != server_) {
    LOG(INFO) << "fs: peer " << chosen << " is the server (the default route of a client)";
  }
  server_ = chosen;
  for (const Peer* p : claims) {
    if (p->id == chosen || extra_servers_.size() >= 64 || !extra_servers_.insert(p->id).second) {
      continue;
    }
    counters_.AddDrop("extra_server");
    LOG(WARNING) << "fs: peer " << p->id << " also announces role=server; "
                 << (chosen.empty() ? "no server until only one of them is live (or the first "
                                      "server is back)"
                                    : absl::StrCat("the server stays ", chosen));
  }
  return chosen;
}

// ---------------------------------------------------------------- sending

absl::StatusOr<size_t> FsTransport::Send(const PeerId& to, absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  const bool vnet = options_.carry_gso_frames;
  absl::InlinedVector<FrameView, 64> run;
  for (FrameView f : frames) {
    if (AcceptForSend(f, options_.mtu, vnet, counters_)) run.push_back(f);
  }
  if (run.empty()) return frames.size();
  Peer* p = peers_.Find(to);
  if (p == nullptr || !p->live) {
    counters_.AddDrop("no_route", run.size());  // gone since the core routed to it
    return frames.size();
  }
  if (p->out.inbox_fd() < 0) p->out.SetInbox(folder_->OpenPeerInbox(p->id));
  // Coalescing pays where a record costs round trips (either end's folder is
  // served by another kernel); between two ends on one kernel it only adds
  // latency (docs/fs-transport.md section 7).
  p->out.set_coalesce(options_.coalesce_local || profile_.remote || p->ann.remote);
  p->out.set_ring(options_.ring_store && p->ann.ring);
  // Frames travel as the core adapted them; the record says whether they
  // carry a virtio_net_hdr (both ends announced offloads).
  p->out.Write(run, vnet && p->ann.offload ? kRecordFlagVnetHdr : 0, counters_, now);
  held_ |= p->out.has_held();
  pacer_.OnActivity(now);  // a reply is likely soon: poll fast
  NoteTraffic(now);
  pacer_.Update(now);
  PublishInterval(now);
  return frames.size();
}

// -------------------------------------------------------------- receiving

absl::StatusOr<Transport::Received> FsTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  bool rung = false;
  bool ring_events = false;
  // Acks due since the last look first: their writes' events on the own
  // inbox go with this drain (inbound_stream.h, PublishDueAck).
  for (const auto& p : peers_.peers()) p->in.PublishDueAck(now);
  pacer_.OnEvents(watch_->Drain([&rung, &ring_events](absl::string_view name) {
    if (name == kDoorbell) rung = true;
    if (absl::EndsWith(name, kRingSuffix)) ring_events = true;
    return absl::EndsWith(name, kRecordSuffix);
  }));
  if (ring_events) pacer_.OnRingEvents();
  pacer_.OnDrained();
  // The ring woke us: look now, even if we looked < kDoorbellInterval ago
  // (with inotify nothing else wakes us before the safety poll).
  if (rung) next_doorbell_ = absl::InfinitePast();
  // Periodic work (announcement, doorbell, scans, reclaim, collection)
  // waits for a quiet moment (HousekeepingIfQuiet), where it delays no
  // frame: at a ping a second it is due at nearly every wake-up, and done
  // first it stood between each record and the device on both ends. Only
  // traffic that never pauses gets it here, once it has waited through
  // kHousekeepingSlack of it. Overdue after a sleep is not enough: an
  // inotify-woken pump sleeps up to a second past the work's time, and the
  // frame that wakes it (a ping, its reply on the way) must not wait for it.
  if (now < QuietAt() && now >= std::max(NextHousekeeping(), hot_since_) + kHousekeepingSlack) {
    Housekeeping(now);
  }
  if (held_) {
    held_ = false;
    for (const auto& p : peers_.peers()) {
      p->out.Flush(now, counters_);
      held_ |= p->out.has_held();
    }
  }
  const size_t before = batch.size();
  more_ready_ = false;
  // One peer per call (the core learns the sender from Received::from);
  // the next call starts with the next peer, so none is starved.
  Received got;
  const auto& peers = peers_.peers();
  const size_t n = peers.size();
  const absl::Time look_start = absl::Now();
  size_t records = 0;
  for (size_t k = 0; k < n && !batch.full(); ++k) {
    Peer& p = *peers[(next_reader_ + k) % n];
    p.in.set_ring(options_.ring_store && p.ann.ring);
    // Where looks are polls (a round trip on a share), a lone record goes to
    // the device before the look for the next one.
    p.in.set_hand_over_lone(pacer_.path() != WakeupPacer::Path::kInotify);
    InboundStream::Progress progress = p.in.Read(batch, now, counters_);
    if (progress.records > 0) p.traffic_at = now;
    records += progress.records;
    for (size_t r = 0; r < progress.records; ++r) pacer_.OnFileFound(p.in.ring());
    more_ready_ |= progress.more;
    if (batch.size() > before) {
      got.from = p.id;
      // Peers not read this time may have records waiting: call again soon.
      if (k + 1 < n) more_ready_ = true;
      break;
    }
  }
  if (batch.full()) more_ready_ = true;
  // What looking costs where nothing was there (the pacer spaces idle
  // looks by it).
  if (records == 0 && n > 0) {
    pacer_.OnLook(absl::Now() - look_start);
    pacer_.OnCaughtUp();
  }
  ++next_reader_;
  got.frames = batch.size() - before;
  if (got.frames > 0) {
    pacer_.OnActivity(now);
    NoteTraffic(now);
  } else {
    HousekeepingIfQuiet(now);
  }
  pacer_.Update(now);
  PublishInterval(now);
  return got;
}

void FsTransport::NoteTraffic(absl::Time now) {
  if (now >= QuietAt()) hot_since_ = now;
  traffic_at_ = now;
}

void FsTransport::HousekeepingIfQuiet(absl::Time now) {
  // Not quiet yet: PublishInterval asks the pump back for the quiet moment.
  if (now < NextHousekeeping() || now < QuietAt()) return;
  // A newcomer's records: read them now, not at the next poll.
  if (Housekeeping(now)) more_ready_ = true;
}

// ------------------------------------------------------------ housekeeping

absl::Time FsTransport::NextHousekeeping() const {
  return std::min({next_beat_, next_doorbell_, next_scan_, next_reclaim_, next_gc_});
}

bool FsTransport::Housekeeping(absl::Time now) {
  bool changed = false;
  if (now >= next_beat_) {
    peers_.Announce(now);
    next_beat_ = now + options_.heartbeat;
  }
  if (now >= next_doorbell_) {
    next_doorbell_ = now + kDoorbellInterval;
    if (now < next_scan_ && peers_.DoorbellRung()) changed |= ScanPeers(now);
  }
  if (now >= next_scan_) changed |= ScanPeers(now);
  if (now >= next_reclaim_) {
    for (const auto& p : peers_.peers()) {
      // Routine: the ring's ack only when due (RingWriter::AckLookDue).
      if (p->out.Reclaim(/*routine=*/true) > 0) p->traffic_at = now;  // it reads: it lives
    }
    next_reclaim_ = now + kReclaimInterval;
  }
  if (now >= next_gc_) {
    collector_.Collect(peers_, now, counters_);
    next_gc_ = now + options_.gc_interval;
  }
  return changed;
}

bool FsTransport::ScanPeers(absl::Time now) {
  next_scan_ = now + options_.heartbeat;
  const PeerTable::ScanResult scan = peers_.Scan(now, counters_);
  if (scan.restarted) next_gc_ = now;  // remove the old session's files
  if (scan.changed) {
    // List the newcomer now, not at the next beat: until our announcement
    // lists it, it rings our doorbell at each of its scans.
    peers_.Announce(now);
    next_beat_ = now + options_.heartbeat;
  }
  ReportPeers();
  return scan.changed || scan.restarted;
}

// ------------------------------------------------------- status and close

std::vector<PeerStatus> FsTransport::peers() const {
  absl::MutexLock lock(&mu_);
  std::vector<PeerStatus> out;
  for (const auto& p : peers_.peers()) {
    PeerStatus s;
    s.id = p->id;
    for (const IpPrefix& a : p->ann.addresses) s.addresses.push_back(a.ToString());
    s.session = Hex16(p->ann.session);
    s.last_seen = p->beat_changed_at;
    s.details.emplace_back("wakeup", pacer_.path_name());
    // How records travel to and from this peer (section 14).
    s.details.emplace_back("store", options_.ring_store && p->ann.ring ? "ring" : "names");
    if (pacer_.interval() != absl::InfiniteDuration()) {
      s.details.emplace_back(
          pacer_.path() == WakeupPacer::Path::kPolling ? "poll_interval" : "safety_poll",
          absl::FormatDuration(pacer_.interval()));
    }
    s.backlog_bytes = p->out.backlog_bytes();
    s.counters.tx_frames = p->out.tx_frames();
    s.counters.tx_bytes = p->out.tx_bytes();
    s.counters.rx_frames = p->in.rx_frames();
    s.counters.rx_bytes = p->in.rx_bytes();
    out.push_back(std::move(s));
  }
  return out;
}

void FsTransport::Close() {
  if (closed_.exchange(true)) return;
  watch_->SignalClosed();
  absl::MutexLock lock(&mu_);
  peers_.DropAllUnread(counters_);
  folder_->Leave();
}

}  // namespace fstun::fs
