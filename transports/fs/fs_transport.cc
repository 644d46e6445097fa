#include "transports/fs/fs_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/send_checks.h"
#include "glog/logging.h"
#include "tun/gso.h"
#include "tun/offload.h"

namespace fstun::fs {

// Everything this transport knows about one remote peer: its announcement,
// the stream we write into its inbox, and the stream it writes into ours.
struct FsTransport::Peer {
  ~Peer() {
    if (inbox_fd >= 0) close(inbox_fd);
  }

  std::string id;
  Announcement ann;
  absl::Time beat_changed_at = absl::InfinitePast();  // our clock
  bool live = true;

  // Outbound: records me -> peer, in DIR/inbox/<peer>.
  int inbox_fd = -1;
  std::unique_ptr<SeqName> out_name;
  std::unique_ptr<SeqName> out_temp;
  uint64_t out_seq = 1;
  std::deque<Outstanding> outstanding;  // written, not yet seen consumed
  size_t backlog_bytes = 0;
  std::vector<FrameView> to_send;  // this Send's frames for the peer

  // Inbound: records peer -> me, in my inbox.
  std::unique_ptr<SeqName> in_name;
  uint64_t in_seq = 1;
  ByteBuffer buffer;  // the current record's file image
  ParsedRecord record;
  size_t record_pos = 0;  // frames of `record` delivered
  uint64_t gap_next = 0;  // a later record known to exist
  absl::Time gap_seen_at = absl::InfinitePast();
  absl::Time next_gap_probe = absl::InfinitePast();
  uint64_t bad_seq = 0;  // the record that failed validation
  absl::Time bad_since = absl::InfinitePast();
  absl::Time bad_retry_at = absl::InfinitePast();

  uint64_t tx_frames = 0, tx_bytes = 0, rx_frames = 0, rx_bytes = 0;
};

namespace {

constexpr absl::Duration kReclaimInterval = absl::Milliseconds(50);
constexpr absl::Duration kBadRetryInterval = absl::Milliseconds(10);
constexpr size_t kMaxIgnoredNames = 1024;
// Records this far beyond the next expected one are read and checked by the
// garbage collector (nearer ones are left to the reader).
constexpr uint64_t kFarAhead = 4096;

int OpenDirNoFollow(int parent, const char* name) {
  return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// Removes every entry of `dirfd` (a previous session's leftovers).
size_t EmptyDirectory(int dirfd) {
  size_t removed = 0;
  for (const std::string& name : ListDir(dirfd)) removed += RemoveEntry(dirfd, name.c_str());
  return removed;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FsTransport>> FsTransport::Create(FsTransportOptions options) {
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
      RecordSize(options.peer_id.size(), 1, options.carry_gso_frames ? kMaxFrameSize : options.mtu);
  if (options.max_file_bytes < one_frame || options.max_file_bytes > kMaxRecordBytes / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: max file bytes must be in [", one_frame, ", ", kMaxRecordBytes / 2, "]"));
  }
  if (options.max_backlog_bytes < one_frame) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: --fs_max_backlog_bytes must be at least ", one_frame));
  }
  int root = open(options.dirpath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: cannot open folder '", options.dirpath, "': ", strerror(errno)));
  }
  std::vector<int> opened = {root};
  auto fail = [&](absl::Status s) {
    for (int fd : opened) close(fd);
    return s;
  };
  absl::StatusOr<int> peers = OpenOrCreateDir(root, kPeersDir, options.access);
  if (!peers.ok()) return fail(peers.status());
  opened.push_back(*peers);
  absl::StatusOr<int> inbox_root = OpenOrCreateDir(root, kInboxDir, options.access);
  if (!inbox_root.ok()) return fail(inbox_root.status());
  opened.push_back(*inbox_root);
  absl::StatusOr<int> inbox = OpenOrCreateDir(*inbox_root, options.peer_id.c_str(), options.access);
  if (!inbox.ok()) return fail(inbox.status());
  opened.push_back(*inbox);
  // With --user the daemon drops root after set-up: the folders it works in
  // become that user's now. (peers/ and inbox/ are shared with other peers;
  // they get the user too when this peer created them, i.e. owns them.)
  if (options.file_owner) {
    for (int fd : {*peers, *inbox_root, *inbox}) {
      struct stat st;
      if (fstat(fd, &st) != 0 || (st.st_uid != 0 && st.st_uid != options.file_owner->uid)) continue;
      if (fchown(fd, options.file_owner->uid, options.file_owner->gid) != 0) {
        return fail(absl::PermissionDeniedError(
            absl::StrCat("fs: cannot give folders in '", options.dirpath, "' to uid ",
                         options.file_owner->uid, " for --user: ", strerror(errno))));
      }
    }
  }
  opened.pop_back();
  // Anything in our inbox was addressed to an earlier session (or is a
  // crashed writer's temp): none of it may be delivered to this one.
  if (size_t removed = EmptyDirectory(*inbox); removed > 0) {
    LOG(INFO) << "fs: removed " << removed << " stale file(s) from inbox " << options.peer_id;
  }
  // Straight from the kernel: a user-space generator's state would be
  // shared by a forked child, giving two processes one session id.
  uint64_t session = 0;
  while (session == 0) {
    if (getrandom(&session, sizeof(session), 0) != sizeof(session)) {
      session = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^ (uint64_t{getpid()} << 40);
    }
  }
  // The heartbeat wakes us anyway: the inotify path's safety-net poll rides
  // on it instead of adding wake-ups of its own.
  options.pacer.inotify_safety_net = options.heartbeat;
  std::string fs_type = FilesystemType(*inbox);
  std::unique_ptr<FsTransport> t(
      new FsTransport(std::move(options), session, root, *peers, *inbox_root, *inbox, fs_type));
  LOG(INFO) << "fs: peer " << t->options_.peer_id << " session " << Hex16(session) << " in "
            << t->options_.dirpath << " (" << fs_type << "), inotify "
            << (t->watch_->has_inotify() ? "watching" : "unavailable");
  {
    absl::MutexLock lock(&t->mu_);
    absl::Time now = absl::Now();
    t->Housekeeping(now);
  }
  return t;
}

FsTransport::FsTransport(FsTransportOptions options, uint64_t session, int root_fd, int peers_fd,
                         int inbox_root_fd, int inbox_fd, std::string fs_type)
    : options_(std::move(options)),
      session_(session),
      root_fd_(root_fd),
      peers_fd_(peers_fd),
      inbox_root_fd_(inbox_root_fd),
      inbox_fd_(inbox_fd),
      fs_type_(std::move(fs_type)),
      watch_(std::make_unique<FolderWatch>(
          absl::StrCat(options_.dirpath, "/", kInboxDir, "/", options_.peer_id),
          options_.use_inotify)),
      pacer_(options_.pacer, absl::StrCat(options_.dirpath, " (", fs_type_, ")"),
             watch_->has_inotify()) {
  interval_ns_.store(absl::ToInt64Nanoseconds(pacer_.interval()));
}

FsTransport::~FsTransport() {
  Close();
  {
    absl::MutexLock lock(&mu_);
    peers_.clear();
  }
  for (int fd : {inbox_fd_, inbox_root_fd_, peers_fd_, root_fd_}) close(fd);
}

TransportCapabilities FsTransport::capabilities() const {
  TransportCapabilities caps;
  caps.multi_peer = true;
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

// ---------------------------------------------------------------- sending

absl::Status FsTransport::Send(absl::Span<const FrameView> frames) {
  return SendImpl(frames, nullptr);
}

absl::Status FsTransport::SendRouted(absl::Span<const FrameView> frames,
                                     absl::Span<const std::optional<IpAddress>> destinations) {
  return SendImpl(frames, &destinations);
}

absl::Status FsTransport::SendImpl(absl::Span<const FrameView> frames,
                                   const absl::Span<const std::optional<IpAddress>>* destinations) {
  if (closed_.load()) return ClosedStatus();
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  Housekeeping(now);
  const bool vnet = options_.carry_gso_frames;
  size_t refused = 0;
  touched_.clear();
  wrote_any_ = false;
  for (size_t i = 0; i < frames.size(); ++i) {
    FrameView f = frames[i];
    if (!AcceptForSend(f, options_.mtu, vnet, counters_)) {
      ++refused;
      continue;
    }
    // Routing looks at the IP packet, after the virtio_net_hdr if any, or
    // at the destination the decorator passed.
    FrameView packet = vnet ? VnetPayload(f) : f;
    Peer* p = nullptr;
    if (destinations != nullptr) {
      const std::optional<IpAddress>& dst =
          i < destinations->size() ? (*destinations)[i] : std::optional<IpAddress>();
      p = RouteTo(dst, now);
    } else {
      p = RouteTo(PacketDestination(packet), now);
    }
    if (p == nullptr) {
      counters_.AddDrop("no_route");
      continue;
    }
    QueueFor(*p, f, packet, now);
  }
  FlushQueued(now);
  if (wrote_any_) {
    pacer_.OnActivity(now);  // a reply is likely soon: poll fast
    pacer_.Update(now);
    interval_ns_.store(more_ready_ ? 0 : absl::ToInt64Nanoseconds(pacer_.interval()));
  }
  return refused > 0 ? RefusedStatus(refused, options_.mtu) : absl::OkStatus();
}

void FsTransport::QueueFor(Peer& p, FrameView frame, FrameView packet, absl::Time now) {
  auto queue = [&](FrameView v) {
    if (p.to_send.empty()) touched_.push_back(&p);
    p.to_send.push_back(v);
  };
  if (!options_.carry_gso_frames || p.ann.offload || options_.opaque_frames) {
    // Same kind of frames on both ends: unchanged.
    if (!options_.carry_gso_frames && !options_.opaque_frames && frame.size() > p.ann.mtu) {
      counters_.AddDrop("peer_mtu");
      return;
    }
    queue(frame);
    return;
  }
  // We have vnet frames, the peer takes plain packets: complete checksums
  // and cut super-packets, as the kernel would have without offloads.
  std::optional<VirtioNetHeader> h = ParseVirtioNetHeader(frame);
  if (h && h->gso_type == 0 && (h->flags & 1) == 0) {  // no GSO, checksum done
    if (packet.size() > p.ann.mtu) {
      counters_.AddDrop("peer_mtu");
      return;
    }
    queue(packet);
    return;
  }
  if (segmented_ == nullptr) {
    segmented_ =
        std::make_unique<FrameBatch>(kMaxRecordFrames, std::max<size_t>(options_.mtu, 1500) + 64);
  }
  // Room for the largest super-packet cut at the smallest sane segment size.
  if (segmented_->capacity() - segmented_->size() < 128) FlushQueued(now);
  size_t before = segmented_->size();
  absl::StatusOr<size_t> n = SegmentVnetFrame(frame, *segmented_);
  if (!n.ok()) {
    counters_.AddDrop("bad_offload_frame");
    return;
  }
  for (size_t i = before; i < segmented_->size(); ++i) {
    FrameView seg = (*segmented_)[i];
    if (seg.size() > p.ann.mtu) {
      counters_.AddDrop("peer_mtu");
      continue;
    }
    queue(seg);
  }
}

void FsTransport::FlushQueued(absl::Time now) {
  if (!touched_.empty()) wrote_any_ = true;
  for (Peer* p : touched_) {
    WriteFrames(*p, p->to_send, now);
    p->to_send.clear();
  }
  touched_.clear();
  if (segmented_ != nullptr) segmented_->Clear();
}

FsTransport::Peer* FsTransport::RouteTo(const std::optional<IpAddress>& dst, absl::Time now) {
  Peer* p = FindRoute(dst);
  // Unknown destination: maybe a peer appeared since the last scan. Rescan
  // soon when we know nobody, rarely otherwise (unroutable traffic must not
  // turn into a directory listing per packet).
  absl::Duration rescan_after = peers_.empty() ? absl::Microseconds(100) : absl::Milliseconds(100);
  if (p == nullptr && now - last_scan_ >= rescan_after) {
    // A scan may forget or restart peers: first write what is queued for
    // them (the queue holds pointers to them), in order.
    FlushQueued(now);
    ScanPeers(now);
    p = FindRoute(dst);
  }
  return p;
}

FsTransport::Peer* FsTransport::FindRoute(const std::optional<IpAddress>& dst) {
  Peer* best = nullptr;
  int best_length = -1;
  int best_count = 0;
  Peer* server = nullptr;
  Peer* only = nullptr;
  int live = 0;
  for (const auto& p : peers_) {
    if (!p->live) continue;
    ++live;
    only = p.get();
    if (p->ann.role == "server") server = p.get();
    if (!dst) continue;
    for (const IpPrefix& a : p->ann.addresses) {
      if (a.address == *dst) return p.get();
      if (a.Contains(*dst)) {
        if (a.length > best_length) {
          best = p.get();
          best_length = a.length;
          best_count = 1;
        } else if (a.length == best_length && best != p.get()) {
          ++best_count;
        }
      }
    }
  }
  // Two peers claiming the same subnet: sending to either could leak one
  // client's traffic to another, so only an unambiguous match counts.
  if (best != nullptr && best_count == 1) return best;
  if (options_.role == "client" && server != nullptr) return server;
  if (live == 1) return only;
  return nullptr;
}

void FsTransport::WriteFrames(Peer& p, absl::Span<const FrameView> frames, absl::Time now) {
  if (p.inbox_fd < 0) p.inbox_fd = OpenDirNoFollow(inbox_root_fd_, p.id.c_str());
  if (p.inbox_fd < 0) {
    counters_.AddDrop("no_route", frames.size());
    return;
  }
  const size_t id_length = options_.peer_id.size();
  const size_t cap = options_.max_backlog_bytes;
  size_t i = 0;
  while (i < frames.size()) {
    // The next record: as many frames as fit one file.
    size_t n = 0;
    size_t bytes = 0;
    while (i + n < frames.size() && n < kMaxRecordFrames) {
      size_t grown = RecordSize(id_length, n + 1, bytes + frames[i + n].size());
      if (n > 0 && grown > options_.max_file_bytes) break;
      bytes += frames[i + n].size();
      ++n;
    }
    if (p.backlog_bytes + RecordSize(id_length, n, bytes) > cap) Reclaim(p);
    bool full = false;
    while (n > 0 && p.backlog_bytes + RecordSize(id_length, n, bytes) > cap) {
      full = true;
      --n;
      bytes -= frames[i + n].size();
    }
    if (n > 0) {
      const uint64_t seq = p.out_seq;
      const uint32_t flags = options_.carry_gso_frames && p.ann.offload ? kRecordFlagVnetHdr : 0;
      absl::Span<const iovec> iov =
          encoder_.Encode(options_.peer_id, session_, seq, frames.subspan(i, n), flags);
      bool rename_failed = false;
      absl::Status s = WriteFileAtomically(p.inbox_fd, p.out_temp->For(seq), p.out_name->For(seq),
                                           iov, &rename_failed, options_.access);
      if (s.ok()) {
        p.outstanding.push_back({seq, encoder_.size(), n});
        p.backlog_bytes += encoder_.size();
        ++p.out_seq;
        counters_.AddTx(n, bytes);
        p.tx_frames += n;
        p.tx_bytes += bytes;
      } else {
        counters_.AddDrop("write_error", n);
        // Something occupies that name: leave the number to the reader's
        // gap handling rather than retry it forever.
        if (rename_failed) ++p.out_seq;
        if (absl::IsNotFound(s)) {  // the inbox went away (peer restarting)
          close(p.inbox_fd);
          p.inbox_fd = -1;
        }
        if (now - last_error_log_ > absl::Seconds(1)) {
          last_error_log_ = now;
          LOG(WARNING) << "fs: writing to peer " << p.id << " failed: " << s;
        }
        if (p.inbox_fd < 0) {
          counters_.AddDrop("write_error", frames.size() - i - n);
          return;
        }
      }
    }
    i += n;
    if (full) {
      counters_.AddDrop("backlog_full", frames.size() - i);
      return;
    }
  }
}

void FsTransport::Reclaim(Peer& p) {
  while (!p.outstanding.empty() && p.inbox_fd >= 0) {
    const Outstanding& o = p.outstanding.front();
    if (Exists(p.inbox_fd, p.out_name->For(o.seq))) break;
    p.backlog_bytes -= o.bytes;
    p.outstanding.pop_front();
  }
}

void FsTransport::DropOutstanding(Peer& p, const char* reason) {
  Reclaim(p);
  for (const Outstanding& o : p.outstanding) {
    if (p.inbox_fd >= 0) unlinkat(p.inbox_fd, p.out_name->For(o.seq), 0);
    if (reason != nullptr) counters_.AddDrop(reason, o.frames);
  }
  p.outstanding.clear();
  p.backlog_bytes = 0;
}

// -------------------------------------------------------------- receiving

absl::StatusOr<size_t> FsTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  pacer_.OnEvents(
      watch_->Drain([](absl::string_view name) { return absl::EndsWith(name, kRecordSuffix); }));
  Housekeeping(now);
  const size_t before = batch.size();
  more_ready_ = false;
  const size_t n = peers_.size();
  for (size_t k = 0; k < n && !batch.full(); ++k) {
    ReadStream(*peers_[(next_reader_ + k) % n], batch, now);
  }
  if (batch.full()) more_ready_ = true;
  ++next_reader_;
  const size_t delivered = batch.size() - before;
  if (delivered > 0) pacer_.OnActivity(now);
  pacer_.Update(now);
  interval_ns_.store(more_ready_ ? 0 : absl::ToInt64Nanoseconds(pacer_.interval()),
                     std::memory_order_relaxed);
  return delivered;
}

void FsTransport::ReadStream(Peer& p, FrameBatch& batch, absl::Time now) {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  while (!batch.full()) {
    if (p.record_pos < p.record.frames.size()) {
      // Decided by what the sender announced, not by the record: records in
      // our inbox that claim to come from an offloading peer are delivered
      // as they are (a sealing layer above us judges them).
      const bool add_header =
          options_.carry_gso_frames && !p.ann.offload && !options_.opaque_frames;
      while (p.record_pos < p.record.frames.size() && !batch.full()) {
        FrameView f = p.record.frames[p.record_pos++];
        // Every copy into a slot is bounded by the slot: a frame that does
        // not fit the caller's batch is dropped and counted, never written
        // past the slot.
        if (add_header) {
          // A plain packet from a peer without offloads: our TUN expects a
          // (zeroed) virtio_net_hdr in front.
          absl::Span<uint8_t> slot = batch.NextSlot();
          if (kVirtioNetHdrSize + f.size() > slot.size()) {
            counters_.AddDrop("frame_too_large");
            continue;
          }
          std::memset(slot.data(), 0, kVirtioNetHdrSize);
          std::memcpy(slot.data() + kVirtioNetHdrSize, f.data(), f.size());
          batch.CommitNext(kVirtioNetHdrSize + f.size());
        } else if (!batch.Append(f)) {
          counters_.AddDrop("frame_too_large");
          continue;
        }
        ++frames;
        bytes += f.size();
      }
      continue;
    }
    if (p.bad_seq == p.in_seq && now < p.bad_retry_at) break;
    const char* name = p.in_name->For(p.in_seq);
    ReadResult r = ReadRegularFile(inbox_fd_, name, kMaxRecordBytes, p.buffer);
    if (r.outcome == ReadOutcome::kMissing) {
      OnMissing(p, now);
      break;
    }
    if (r.outcome == ReadOutcome::kNotRegular || r.outcome == ReadOutcome::kTooLarge) {
      // Never a record we wrote: remove it now. The sender may still write
      // this number (its rename replaces whatever is there).
      RemoveEntry(inbox_fd_, name);
      counters_.AddDrop(r.outcome == ReadOutcome::kNotRegular ? "not_regular" : "oversize_file");
      break;
    }
    if (r.outcome == ReadOutcome::kError) {
      if (now - last_error_log_ > absl::Seconds(1)) {
        last_error_log_ = now;
        LOG(WARNING) << "fs: reading " << name << ": " << strerror(r.error);
      }
      break;
    }
    RecordError e = ParseRecord(p.buffer.span(), options_.mtu, p.record);
    const char* reason = RecordErrorName(e);
    if (e == RecordError::kOk &&
        (p.record.header.sender_id != p.id || p.record.header.session != p.ann.session ||
         p.record.header.seq != p.in_seq)) {
      reason = "bad_header";  // contents disagree with the name
      e = RecordError::kBadHeader;
    }
    if (e == RecordError::kOk && (p.record.header.flags & kRecordFlagVnetHdr) &&
        !options_.carry_gso_frames) {
      reason = "bad_version";  // offload frames we did not announce we take
      e = RecordError::kBadVersion;
    }
    if (e == RecordError::kOk && (p.record.header.flags & kRecordFlagVnetHdr) && !p.ann.offload) {
      // The sender announced plain packets, so its frames get a header put
      // in front; a vnet record from it (up to kMaxFrameSize per frame)
      // cannot be what it wrote.
      reason = "bad_header";
      e = RecordError::kBadHeader;
    }
    if (e != RecordError::kOk) {
      p.record.frames.clear();
      p.record_pos = 0;
      OnBadFile(p, reason, now);
      break;
    }
    // The frames now live in p.buffer: the file can go.
    unlinkat(inbox_fd_, name, 0);
    pacer_.OnFileFound();
    ++p.in_seq;
    p.record_pos = 0;
    p.gap_next = 0;
    p.bad_seq = 0;
  }
  if (frames > 0) {
    counters_.AddRx(frames, bytes);
    p.rx_frames += frames;
    p.rx_bytes += bytes;
  }
}

void FsTransport::OnMissing(Peer& p, absl::Time now) {
  if (p.gap_next > p.in_seq) {
    if (now - p.gap_seen_at >= options_.gap_wait) {
      // Skip only to a valid record of this stream: a file planted under a
      // far-ahead number must not make us discard the real ones.
      const char* later = p.in_name->For(p.gap_next);
      ReadResult r = ReadRegularFile(inbox_fd_, later, kMaxRecordBytes, p.buffer);
      RecordError e = r.outcome == ReadOutcome::kOk
                          ? ParseRecord(p.buffer.span(), options_.mtu, p.record)
                          : RecordError::kBadHeader;
      p.record.frames.clear();
      p.record_pos = 0;
      if (r.outcome == ReadOutcome::kMissing) {
        p.gap_next = 0;
        return;
      }
      if (e != RecordError::kOk || p.record.header.sender_id != p.id ||
          p.record.header.session != p.ann.session || p.record.header.seq != p.gap_next) {
        RemoveEntry(inbox_fd_, later);
        counters_.AddDrop(r.outcome == ReadOutcome::kNotRegular ? "not_regular"
                          : e == RecordError::kOk               ? "bad_header"
                                                                : RecordErrorName(e));
        p.gap_next = 0;
        return;
      }
      counters_.AddDrop("gap", p.gap_next - p.in_seq);
      LOG(WARNING) << "fs: records " << p.in_seq << ".." << p.gap_next - 1 << " from " << p.id
                   << " never arrived; skipped after " << options_.gap_wait;
      p.in_seq = p.gap_next;
      p.gap_next = 0;
      more_ready_ = true;  // read the next one without waiting
    }
    return;
  }
  // Is a later record there (one was lost or arrives out of order)? Probe
  // rarely: while idle the next record is missing all the time.
  if (now >= p.next_gap_probe) {
    p.next_gap_probe = now + options_.gap_wait / 4;
    if (Exists(inbox_fd_, p.in_name->For(p.in_seq + 1))) {
      p.gap_next = p.in_seq + 1;
      p.gap_seen_at = now;
    }
  }
}

void FsTransport::OnBadFile(Peer& p, const char* reason, absl::Time now) {
  if (p.bad_seq != p.in_seq) {
    p.bad_seq = p.in_seq;
    p.bad_since = now;
    LOG(WARNING) << "fs: record " << p.in_seq << " from " << p.id << " is invalid (" << reason
                 << "); retrying for " << options_.bad_file_wait;
  }
  if (now - p.bad_since >= options_.bad_file_wait) {
    // Still bad: remove it. A rewrite under the same number is still read;
    // otherwise the gap handling skips the number.
    RemoveEntry(inbox_fd_, p.in_name->For(p.in_seq));
    counters_.AddDrop(reason);
    LOG(WARNING) << "fs: removed invalid record " << p.in_seq << " from " << p.id << " (" << reason
                 << ")";
    p.bad_seq = 0;
    p.next_gap_probe = now;
    return;
  }
  p.bad_retry_at = now + kBadRetryInterval;
}

// ----------------------------------------------------- peers and cleanup

void FsTransport::Housekeeping(absl::Time now) {
  if (now >= next_beat_) {
    WriteAnnouncement(now);
    next_beat_ = now + options_.heartbeat;
  }
  if (now >= next_scan_) ScanPeers(now);
  if (now >= next_reclaim_) {
    for (const auto& p : peers_) Reclaim(*p);
    next_reclaim_ = now + kReclaimInterval;
  }
  if (now >= next_gc_) {
    CollectGarbage(now);
    next_gc_ = now + options_.gc_interval;
  }
}

void FsTransport::WriteAnnouncement(absl::Time now) {
  Announcement a;
  a.id = options_.peer_id;
  a.session = session_;
  a.role = options_.role;
  a.addresses = options_.addresses;
  a.mtu = options_.mtu;
  a.formats = {kRecordVersion};
  a.offload = options_.carry_gso_frames;
  a.beat = ++beat_;
  for (const auto& p : peers_) a.peers.push_back(p->id);
  a.time = now;
  std::string text = EncodeAnnouncement(a);
  iovec iov{text.data(), text.size()};
  std::string temp = absl::StrCat(".", a.id, kPeerSuffix, kTempSuffix);
  std::string final = absl::StrCat(a.id, kPeerSuffix);
  absl::Status s = WriteFileAtomically(peers_fd_, temp.c_str(), final.c_str(), {&iov, 1}, nullptr,
                                       options_.access);
  if (!s.ok() && now - last_error_log_ > absl::Seconds(1)) {
    last_error_log_ = now;
    LOG(WARNING) << "fs: cannot write announcement: " << s;
  }
}

FsTransport::Peer* FsTransport::FindPeer(absl::string_view id) {
  for (const auto& p : peers_) {
    if (p->id == id) return p.get();
  }
  return nullptr;
}

bool FsTransport::IsLive(const Peer& p, absl::Time now) const {
  return now - p.beat_changed_at < options_.peer_timeout;
}

void FsTransport::StartStreams(Peer& p) {
  if (p.inbox_fd >= 0) close(p.inbox_fd);
  p.inbox_fd = OpenDirNoFollow(inbox_root_fd_, p.id.c_str());
  std::string out = StreamPrefix(options_.peer_id, session_, p.ann.session);
  p.out_name = std::make_unique<SeqName>("", out, kRecordSuffix);
  p.out_temp = std::make_unique<SeqName>(".", out, kTempSuffix);
  p.out_seq = 1;
  p.outstanding.clear();
  p.backlog_bytes = 0;
  p.in_name =
      std::make_unique<SeqName>("", StreamPrefix(p.id, p.ann.session, session_), kRecordSuffix);
  p.in_seq = 1;
  p.record.frames.clear();
  p.record_pos = 0;
  p.gap_next = 0;
  p.bad_seq = 0;
  p.next_gap_probe = absl::InfinitePast();
}

void FsTransport::ScanPeers(absl::Time now) {
  last_scan_ = now;
  next_scan_ = now + options_.heartbeat;
  // Discovery by listing (may be stale on network shares); known peers are
  // re-read by name every time, which is fresh.
  std::vector<std::string> ids;
  for (const std::string& name :
       options_.list_peers ? ListDir(peers_fd_) : std::vector<std::string>()) {
    std::optional<std::string> id = ParsePeerFileName(name);
    if (id && *id != options_.peer_id) ids.push_back(*std::move(id));
  }
  for (const auto& p : peers_) {
    if (std::find(ids.begin(), ids.end(), p->id) == ids.end()) ids.push_back(p->id);
  }
  // A newcomer our listing may not show yet rang the doorbell.
  std::string doorbell_id;
  if (ReadRegularFile(inbox_fd_, kDoorbell, 2 + kMaxPeerIdLength, scratch_buffer_).outcome ==
      ReadOutcome::kOk) {
    std::string id(reinterpret_cast<const char*>(scratch_buffer_.data()), scratch_buffer_.size());
    while (!id.empty() && id.back() == '\n') id.pop_back();
    if (IsValidPeerId(id) && id != options_.peer_id) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      doorbell_id = id;
    }
  }
  for (const std::string& id : ids) {
    std::string name = absl::StrCat(id, kPeerSuffix);
    ReadResult r = ReadRegularFile(peers_fd_, name.c_str(), kMaxAnnouncementBytes, scratch_buffer_);
    Peer* p = FindPeer(id);
    if (r.outcome == ReadOutcome::kMissing) {
      if (p != nullptr) {
        LOG(INFO) << "fs: peer " << id << " left (announcement removed)";
        DropOutstanding(*p, "peer_gone");
        peers_.erase(std::find_if(peers_.begin(), peers_.end(),
                                  [&](const auto& q) { return q.get() == p; }));
      }
      continue;
    }
    if (r.outcome != ReadOutcome::kOk) continue;
    absl::StatusOr<Announcement> ann = ParseAnnouncement(absl::string_view(
        reinterpret_cast<const char*>(scratch_buffer_.data()), scratch_buffer_.size()));
    if (!ann.ok() || ann->id != id) continue;  // half-written or foreign: next time
    if (p == nullptr) {
      auto fresh = std::make_unique<Peer>();
      p = fresh.get();
      p->id = id;
      p->ann = *ann;
      // An announcement whose own clock says it is long dead starts as gone.
      p->beat_changed_at =
          now - ann->time > options_.peer_timeout + absl::Minutes(1) ? absl::InfinitePast() : now;
      p->live = IsLive(*p, now);
      StartStreams(*p);
      peers_.push_back(std::move(fresh));
      LOG(INFO) << "fs: peer " << id << " session " << Hex16(ann->session) << " role '" << ann->role
                << "' mtu " << ann->mtu << (p->live ? "" : " (not beating)");
      continue;
    }
    if (ann->session != p->ann.session) {
      LOG(INFO) << "fs: peer " << id << " restarted (session " << Hex16(p->ann.session) << " -> "
                << Hex16(ann->session) << "); its old records are discarded";
      DropOutstanding(*p, "peer_restarted");
      p->ann = *ann;
      p->beat_changed_at = now;
      StartStreams(*p);
      next_gc_ = now;  // remove the old session's files soon
    } else {
      if (ann->beat != p->ann.beat) p->beat_changed_at = now;
      p->ann = *ann;
    }
    bool live = IsLive(*p, now);
    if (live != p->live) {
      LOG(INFO) << "fs: peer " << id << (live ? " is beating again" : " stopped beating");
      if (!live) {
        DropOutstanding(*p, "peer_gone");
        SilenceDoorbell(*p);
      }
      p->live = live;
    }
  }
  // Answered: the next announcement lists the ringer.
  if (!doorbell_id.empty() && FindPeer(doorbell_id) != nullptr) unlinkat(inbox_fd_, kDoorbell, 0);
  for (const auto& p : peers_) {
    if (p->live && std::find(p->ann.peers.begin(), p->ann.peers.end(), options_.peer_id) ==
                       p->ann.peers.end()) {
      RingDoorbell(*p);
    }
  }
}

void FsTransport::SilenceDoorbell(Peer& p) {
  if (p.inbox_fd < 0) return;
  ByteBuffer buffer;
  if (ReadRegularFile(p.inbox_fd, kDoorbell, 2 + kMaxPeerIdLength, buffer).outcome ==
          ReadOutcome::kOk &&
      absl::string_view(reinterpret_cast<const char*>(buffer.data()), buffer.size()) ==
          absl::StrCat(options_.peer_id, "\n")) {
    unlinkat(p.inbox_fd, kDoorbell, 0);
  }
}

void FsTransport::RingDoorbell(Peer& p) {
  if (p.inbox_fd < 0) p.inbox_fd = OpenDirNoFollow(inbox_root_fd_, p.id.c_str());
  if (p.inbox_fd < 0) return;
  std::string text = absl::StrCat(options_.peer_id, "\n");
  std::string temp = absl::StrCat(kDoorbellTempPrefix, options_.peer_id, kTempSuffix);
  iovec iov{text.data(), text.size()};
  (void)WriteFileAtomically(p.inbox_fd, temp.c_str(), kDoorbell, {&iov, 1}, nullptr,
                            options_.access);
}

void FsTransport::CollectGarbage(absl::Time now) {
  for (const std::string& name : ListDir(inbox_fd_)) {
    if (name == kDoorbell || absl::StartsWith(name, kDoorbellTempPrefix)) continue;
    std::optional<InboxName> n = ParseInboxName(name);
    if (!n) {
      CountIgnoredName(name);
      continue;
    }
    Peer* p = FindPeer(n->sender);
    if (p == nullptr) {
      std::string announcement = absl::StrCat(n->sender, kPeerSuffix);
      if (Exists(peers_fd_, announcement.c_str())) continue;  // not scanned yet
      RemoveEntry(inbox_fd_, name.c_str());
      counters_.AddDrop("unknown_sender");
      continue;
    }
    if (n->sender_session != p->ann.session || n->receiver_session != session_) {
      RemoveEntry(inbox_fd_, name.c_str());
      counters_.AddDrop("stale_file");
      continue;
    }
    if (n->kind == InboxName::kTemp) continue;  // being written
    if (n->seq < p->in_seq) {
      RemoveEntry(inbox_fd_, name.c_str());  // arrived after we skipped it
      continue;
    }
    if (n->seq == p->in_seq) continue;  // the reader handles it
    // A record we have not reached yet. Junk under such a name would sit
    // there until the stream reaches it, so check what we cheaply can now.
    if (const char* junk = CheckFutureRecord(*p, name, n->seq)) {
      RemoveEntry(inbox_fd_, name.c_str());
      counters_.AddDrop(junk);
      continue;
    }
    if (p->gap_next == 0 || n->seq < p->gap_next) {
      if (p->gap_next == 0) p->gap_seen_at = now;
      p->gap_next = n->seq;
    }
  }
}

const char* FsTransport::CheckFutureRecord(Peer& p, const std::string& name, uint64_t seq) {
  struct stat st;
  if (fstatat(inbox_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return nullptr;
  if (!S_ISREG(st.st_mode)) return "not_regular";
  if (static_cast<uint64_t>(st.st_size) > kMaxRecordBytes) return "oversize_file";
  // Farther ahead than any sender's backlog keeps it in practice: read it.
  if (seq <= p.in_seq + kFarAhead) return nullptr;
  ReadResult r = ReadRegularFile(inbox_fd_, name.c_str(), kMaxRecordBytes, scratch_buffer_);
  if (r.outcome == ReadOutcome::kNotRegular) return "not_regular";
  if (r.outcome == ReadOutcome::kTooLarge) return "oversize_file";
  if (r.outcome != ReadOutcome::kOk) return nullptr;
  RecordError e = ParseRecord(scratch_buffer_.span(), options_.mtu, scratch_record_);
  if (e != RecordError::kOk) return RecordErrorName(e);
  const RecordHeader& h = scratch_record_.header;
  if (h.sender_id != p.id || h.session != p.ann.session || h.seq != seq) return "bad_header";
  return nullptr;
}

void FsTransport::CountIgnoredName(const std::string& name) {
  if (ignored_names_.size() >= kMaxIgnoredNames || !ignored_names_.insert(name).second) return;
  counters_.AddDrop("ignored_name");
  LOG(WARNING) << "fs: ignoring '" << name << "' in inbox " << options_.peer_id
               << " (not an fstun record name)";
}

// ------------------------------------------------------- status and close

std::vector<PeerStatus> FsTransport::peers() const {
  absl::MutexLock lock(&mu_);
  std::vector<PeerStatus> out;
  for (const auto& p : peers_) {
    PeerStatus s;
    s.id = p->id;
    for (const IpPrefix& a : p->ann.addresses) s.addresses.push_back(a.ToString());
    s.session = Hex16(p->ann.session);
    s.last_seen = p->beat_changed_at;
    s.wakeup_path = pacer_.path_name();
    s.poll_interval = pacer_.interval();
    s.backlog_bytes = p->backlog_bytes;
    s.counters.tx_frames = p->tx_frames;
    s.counters.tx_bytes = p->tx_bytes;
    s.counters.rx_frames = p->rx_frames;
    s.counters.rx_bytes = p->rx_bytes;
    out.push_back(std::move(s));
  }
  return out;
}

void FsTransport::RemoveOwnFiles() {
  for (const auto& p : peers_) DropOutstanding(*p, nullptr);
  std::string announcement = absl::StrCat(options_.peer_id, kPeerSuffix);
  unlinkat(peers_fd_, announcement.c_str(), 0);
  EmptyDirectory(inbox_fd_);
  unlinkat(inbox_root_fd_, options_.peer_id.c_str(), AT_REMOVEDIR);
}

void FsTransport::Close() {
  if (closed_.exchange(true)) return;
  watch_->SignalClosed();
  absl::MutexLock lock(&mu_);
  RemoveOwnFiles();
}

}  // namespace fstun::fs
