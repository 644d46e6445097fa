#include "transports/fs/inbound_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "glog/logging.h"

namespace fstun::fs {
namespace {

constexpr absl::Duration kBadRetryInterval = absl::Milliseconds(10);

}  // namespace

void InboundStream::Start(uint64_t peer_session, bool peer_offload) {
  Resume(peer_session, peer_offload, 1);
}

void InboundStream::Resume(uint64_t peer_session, bool peer_offload, uint64_t seq) {
  peer_session_ = peer_session;
  peer_offload_ = peer_offload;
  prefix_ = StreamPrefix(peer_id_, peer_session, config_.my_session);
  name_ = std::make_unique<SeqName>("", prefix_, kRecordSuffix);
  ring_.reset();
  resync_.reset();
  ring_blocked_ = false;
  seq_ = seq;
  record_.frames.clear();
  record_pos_ = 0;
  gap_next_ = 0;
  bad_seq_ = 0;
  blocked_.clear();
  rewind_from_ = 0;
  forged_seq_ = 0;
  forged_.clear();
  next_gap_probe_ = absl::InfinitePast();
}

void InboundStream::set_ring(bool on) {
  if (on == want_ring_) return;
  want_ring_ = on;
  ring_.reset();
}

bool InboundStream::ReadRing(absl::Time now, Counters& counters, Progress& progress) {
  absl::Span<const uint8_t> image;
  const RingReader::Slot slot = Ring()->ReadNext(&image);
  if (slot != RingReader::Slot::kBytes || !IsRingRecord(image, seq_, counters)) {
    record_.frames.clear();
    record_pos_ = 0;
    // Caught up. If this look delivered records, the ack waits for the
    // next look (Read's start): on NFS a write is a sync on the server
    // (~3.4 ms in the VM bed), which must not stand between the frames
    // just read and the TUN.
    if (progress.records > 0) {
      ack_due_ = true;
    } else {
      ring_->MaybePublish(now, /*idle=*/true);
    }
    if (slot == RingReader::Slot::kBlocked || ring_->ack_blocked()) BlockRing(counters);
    OnMissing(now, counters, progress);
    return false;
  }
  ring_->Advance(image.size());
  if (const char* reason = CheckHeader(seq_)) {
    // The sender's own record, with frames we cannot take: never readable.
    counters.AddDrop(reason);
    record_.frames.clear();
  } else {
    ++progress.records;
  }
  record_pos_ = 0;
  ring_->Consumed(seq_);
  if (rewind_from_ != 0 && seq_ > rewind_to_) rewind_from_ = 0;
  ++seq_;
  gap_next_ = 0;
  resync_.reset();
  ring_->MaybePublish(now, /*idle=*/false);
  return true;
}

void InboundStream::SetMac(const LinkMac* mac) {
  if (mac == mac_) return;
  mac_ = mac;
  ring_.reset();  // its acks are tagged with the MAC (reopened where it was: the header)
}

RingReader* InboundStream::Ring() {
  if (ring_ == nullptr) {
    ring_ =
        std::make_unique<RingReader>(config_.inbox_fd, prefix_, config_.ring_io, config_.access);
    if (config_.auth != nullptr) {
      ring_->SetAuth(AckAuth{mac_, peer_id_, peer_session_, config_.my_id, config_.my_session});
    }
  }
  return ring_.get();
}

void InboundStream::BlockRing(Counters& counters) {
  if (ring_blocked_) return;
  ring_blocked_ = true;
  counters.AddDrop("blocked_name");
  LOG(WARNING) << "fs: the ring file or ack of the stream from " << peer_id_
               << " is blocked by something that cannot be replaced (a directory?); looking "
                  "for its records as files too";
}

bool InboundStream::IsRingRecord(absl::Span<const uint8_t> image, uint64_t seq,
                                 Counters& counters) {
  if (ParseRecord(image, config_.mtu, record_) != RecordError::kOk) return false;
  if (config_.auth != nullptr &&
      !VerifyRecord(record_, RecordAuth{mac_, config_.my_id, config_.my_session})) {
    NoteForged(seq, "bad_record_auth", counters, /*named=*/false);
    return false;
  }
  // Anything else is an earlier lap's record (or a later one after the
  // writer gave up on us: the header's resync point says so).
  const RecordHeader& h = record_.header;
  return h.sender_id == peer_id_ && h.session == peer_session_ && h.seq == seq;
}

InboundStream::Look InboundStream::LookInRing(uint64_t seq, Counters& counters) {
  if (ring_ == nullptr) return Look::kMissing;
  std::optional<uint64_t> at;
  if (resync_ && seq == resync_->resync_seq) {
    at = resync_->resync_at;
  } else if (seq != seq_) {
    return Look::kMissing;  // only the next record and a resync point can be found
  }
  absl::Span<const uint8_t> image;
  const Look look =
      ring_->ReadNext(&image, at) == RingReader::Slot::kBytes && IsRingRecord(image, seq, counters)
          ? Look::kValid
          : Look::kMissing;
  record_.frames.clear();
  record_pos_ = 0;
  return look;
}

void InboundStream::ProbeRing(absl::Time now, Progress& progress, Counters& counters) {
  if (ring_ == nullptr) return;
  ring_->CheckFiles();
  std::optional<RingHeader> h = ring_->Resync();
  if (!h) return;
  // The header is not authenticated: it only says where to look. The reader
  // moves only to a record it has read and verified there (tag, stream,
  // session, number), so a forged header can make it look, never skip.
  const uint64_t r = h->resync_seq;
  const bool ahead = r > seq_ || (r == seq_ && h->resync_at != ring_->at());
  // After a far jump (unkeyed: to a planted record?), the writer's own
  // resync point behind it takes the reader back.
  const bool back = rewind_from_ != 0 && r >= rewind_from_ && r < seq_;
  if (!ahead && !back) return;
  absl::Span<const uint8_t> image;
  const bool there = ring_->ReadNext(&image, h->resync_at) == RingReader::Slot::kBytes &&
                     IsRingRecord(image, r, counters);
  record_.frames.clear();
  record_pos_ = 0;
  if (!there) return;
  progress.more = true;
  if (back) {
    counters.AddDrop("jump_undone");
    LOG(WARNING) << "fs: records from " << peer_id_ << " arrive at " << r << " after a jump to "
                 << rewind_to_ << " (a record planted far ahead?); reading from " << r;
    seq_ = r;
    ring_->JumpTo(h->resync_at);
    rewind_from_ = 0;
    gap_next_ = 0;
    return;
  }
  if (r == seq_) {
    ring_->JumpTo(h->resync_at);  // the writer started again where we are
    return;
  }
  // Records before it were given up, or one is spoiled in place and the
  // writer pointed past it after a gap wait: go there now.
  resync_ = *h;
  gap_next_ = r;
  Skip(progress, counters);
}

void InboundStream::PublishDueAck(absl::Time now) {
  if (std::exchange(ack_due_, false) && ring_ != nullptr) ring_->MaybePublish(now, /*idle=*/true);
}

InboundStream::Progress InboundStream::Read(FrameBatch& batch, absl::Time now, Counters& counters) {
  Progress progress;
  if (name_ == nullptr) return progress;
  DCHECK(!ack_due_) << "the transport writes due acks (PublishDueAck) before its drain and Read";
  // The last Read found nothing: what this one finds is likely a lone
  // record (a ping, a keystroke, a request).
  const bool lone = hand_over_lone_ && waiting_;
  uint64_t bytes = 0;
  while (!batch.full()) {
    if (record_pos_ < record_.frames.size()) {
      while (record_pos_ < record_.frames.size() && !batch.full()) {
        FrameView f = record_.frames[record_pos_++];
        if (!batch.Append(f)) {
          counters.AddDrop("frame_too_large");  // does not fit the caller's slot
          continue;
        }
        ++progress.frames;
        bytes += f.size();
      }
      continue;
    }
    // A lone record goes to the device before the next look: where a look
    // is a round trip (the polling path), the frames, and the reply the
    // device has for them, would wait for one that finds nothing.
    if (lone && progress.records > 0) {
      progress.more = true;
      break;
    }
    if (want_ring_ && !(ring_blocked_ && Exists(config_.inbox_fd, name_->For(seq_)))) {
      if (!ReadRing(now, counters, progress)) break;
      continue;
    }
    if (bad_seq_ == seq_ && now < bad_retry_at_) break;
    const char* name = name_->For(seq_);
    const bool blocked = IsBlocked(seq_);
    if (forged_seq_ == seq_ && StillForged(name)) {
      OnMissing(now, counters, progress);
      break;
    }
    ReadResult r = ReadNamed(name, &open_);
    if (r.outcome == ReadOutcome::kMissing) {
      OnMissing(now, counters, progress);
      break;
    }
    if (r.outcome == ReadOutcome::kNotRegular || r.outcome == ReadOutcome::kTooLarge) {
      // Never a record we wrote: remove it now. The sender may still write
      // this number (its rename replaces whatever is there).
      if (blocked || !RemoveEntry(config_.inbox_fd, name)) {
        // It stays (a non-empty directory, no permission): no record can
        // ever land under this name, so it counts as missing and the gap
        // rule moves past it once the sender has moved on.
        NoteBlocked(seq_, counters);
        OnMissing(now, counters, progress);
        break;
      }
      counters.AddDrop(r.outcome == ReadOutcome::kNotRegular ? "not_regular" : "oversize_file");
      break;
    }
    if (r.outcome == ReadOutcome::kError) {
      LOG_EVERY_T(WARNING, 1) << "fs: reading " << name << ": " << strerror(r.error);
      break;
    }
    RecordError e = ParseRecord(buffer_.span(), config_.mtu, record_);
    if (const char* forged = e == RecordError::kOk ? Forged(seq_) : nullptr) {
      // Not written by the peer for us under this name: as if nothing were
      // there.
      record_.frames.clear();
      record_pos_ = 0;
      NoteForged(seq_, forged, counters, /*named=*/true);
      OnMissing(now, counters, progress);
      break;
    }
    const char* reason = e == RecordError::kOk ? CheckHeader(seq_) : RecordErrorName(e);
    if (reason != nullptr) {
      open_.reset();
      record_.frames.clear();
      record_pos_ = 0;
      if (blocked || OnBadFile(reason, now, counters)) {
        NoteBlocked(seq_, counters);
        OnMissing(now, counters, progress);
      }
      break;
    }
    // The frames now live in buffer_: the file can go.
    unlinkat(config_.inbox_fd, name, 0);
    open_.reset();
    ++progress.records;
    // A record beyond where the last far jump landed: the sender is really
    // there, the jump was right.
    if (rewind_from_ != 0 && seq_ > rewind_to_) rewind_from_ = 0;
    ++seq_;
    record_pos_ = 0;
    gap_next_ = 0;
    bad_seq_ = 0;
  }
  if (batch.full()) progress.more = true;
  waiting_ = !progress.more;
  if (progress.frames > 0) {
    counters.AddRx(progress.frames, bytes);
    rx_frames_ += progress.frames;
    rx_bytes_ += bytes;
  }
  return progress;
}

ReadResult InboundStream::ReadNamed(const char* name, UniqueFd* keep_open) {
  if (config_.profile == nullptr || !config_.profile->unlink_while_open) keep_open = nullptr;
  ReadResult r = ReadRegularFile(config_.inbox_fd, name, kMaxRecordBytes, buffer_, keep_open);
  if (r.outcome == ReadOutcome::kMissing && config_.profile != nullptr &&
      RevalidateName(*config_.profile, config_.inbox_fd, name)) {
    r = ReadRegularFile(config_.inbox_fd, name, kMaxRecordBytes, buffer_, keep_open);
  }
  return r;
}

const char* InboundStream::CheckHeader(uint64_t seq) const {
  const RecordHeader& h = record_.header;
  if (h.sender_id != peer_id_ || h.session != peer_session_ || h.seq != seq) {
    return "bad_header";  // contents disagree with the name
  }
  if (h.flags & kRecordFlagVnetHdr) {
    // Offload frames we did not announce we take.
    if (!config_.carry_gso_frames) return "bad_version";
    // The sender announced plain packets, so its frames get a header put
    // in front: a vnet record from it (frames up to kMaxFrameSize) cannot
    // be what it wrote, and would not fit a slot with the header.
    if (!peer_offload_) return "bad_header";
  }
  return nullptr;
}

const char* InboundStream::Forged(uint64_t seq) const {
  if (config_.auth == nullptr) return nullptr;
  if (!VerifyRecord(record_, RecordAuth{mac_, config_.my_id, config_.my_session})) {
    return "bad_record_auth";
  }
  // The peer's own record, but not this one: a copy of an older one (of
  // this session or an earlier one) under this name.
  const RecordHeader& h = record_.header;
  if (h.sender_id != peer_id_ || h.session != peer_session_ || h.seq != seq) {
    return "replayed_record";
  }
  return nullptr;
}

InboundStream::FileId InboundStream::IdOf(const char* name) const {
  struct stat st;
  if (fstatat(config_.inbox_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size),
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
          int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

void InboundStream::NoteForged(uint64_t seq, const char* reason, Counters& counters, bool named) {
  // Only a record file's identity can be remembered (a ring's place is
  // read again anyway).
  if (named && seq == seq_) {
    forged_seq_ = seq;
    forged_file_ = IdOf(name_->For(seq));
  }
  if (std::find(forged_.begin(), forged_.end(), seq) != forged_.end()) return;
  // Only names at or beyond the reader matter; the list stays short.
  forged_.erase(
      std::remove_if(forged_.begin(), forged_.end(), [&](uint64_t f) { return f < seq_; }),
      forged_.end());
  if (forged_.size() >= 64) forged_.erase(forged_.begin());
  forged_.push_back(seq);
  counters.AddDrop(reason);
  LOG_EVERY_T(WARNING, 10) << "fs: the file under record name " << seq << " from " << peer_id_
                           << " is not that record (" << reason
                           << ": written by someone without the key, or a copy of an older "
                              "one?); treated as missing";
}

bool InboundStream::StillForged(const char* name) const {
  FileId id = IdOf(name);
  return id.ino != 0 && id == forged_file_;
}

void InboundStream::NoteLaterRecord(uint64_t seq, absl::Time now) {
  if (seq <= seq_) return;
  if (gap_next_ == 0 || seq < gap_next_) {
    if (gap_next_ == 0) gap_seen_at_ = now;
    gap_next_ = seq;
  }
}

bool InboundStream::WantsEarlierRecord(uint64_t seq, absl::Time now) {
  if (rewind_from_ == 0 || seq < rewind_from_ || seq >= seq_) return false;
  next_rewind_probe_ = now;  // look at once
  return true;
}

bool InboundStream::IsBlocked(uint64_t seq) const {
  return std::find(blocked_.begin(), blocked_.end(), seq) != blocked_.end();
}

void InboundStream::NoteBlocked(uint64_t seq, Counters& counters) {
  if (IsBlocked(seq)) return;
  // Only names at or beyond the reader matter; the list stays short.
  blocked_.erase(
      std::remove_if(blocked_.begin(), blocked_.end(), [&](uint64_t b) { return b < seq_; }),
      blocked_.end());
  if (blocked_.size() >= 64) blocked_.erase(blocked_.begin());
  blocked_.push_back(seq);
  counters.AddDrop("blocked_name");
  LOG_EVERY_T(WARNING, 10) << "fs: record name " << seq << " from " << peer_id_
                           << " is occupied by something that cannot be removed (a directory?);"
                              " treated as missing";
}

InboundStream::Look InboundStream::LookAt(uint64_t seq, Counters& counters) {
  const char* name = name_->For(seq);
  ReadResult r = ReadNamed(name);
  if (r.outcome == ReadOutcome::kMissing || r.outcome == ReadOutcome::kError) return Look::kMissing;
  const char* reason = nullptr;
  if (r.outcome == ReadOutcome::kOk) {
    RecordError e = ParseRecord(buffer_.span(), config_.mtu, record_);
    if (const char* forged = e == RecordError::kOk ? Forged(seq) : nullptr) {
      // Never skipped to, never removed here (it may be the name the
      // sender writes next): as if missing.
      record_.frames.clear();
      record_pos_ = 0;
      NoteForged(seq, forged, counters, /*named=*/true);
      return Look::kMissing;
    }
    reason = e == RecordError::kOk ? CheckHeader(seq) : RecordErrorName(e);
  } else {
    reason = r.outcome == ReadOutcome::kNotRegular ? "not_regular" : "oversize_file";
  }
  record_.frames.clear();
  record_pos_ = 0;
  if (reason == nullptr) return Look::kValid;
  if (IsBlocked(seq) || !RemoveEntry(config_.inbox_fd, name)) {
    NoteBlocked(seq, counters);
    return Look::kBlocked;
  }
  counters.AddDrop(reason);
  return Look::kRemoved;
}

void InboundStream::OnMissing(absl::Time now, Counters& counters, Progress& progress) {
  // After a far jump (to a record planted far ahead, perhaps): if the
  // sender's records show up where we jumped from, the jump was wrong.
  if (rewind_from_ != 0 && now >= next_rewind_probe_) {
    next_rewind_probe_ = now + config_.gap_wait / 4;
    if (LookAny(rewind_from_, counters) == Look::kValid) {
      counters.AddDrop("jump_undone");
      LOG(WARNING) << "fs: records from " << peer_id_ << " arrive at " << rewind_from_
                   << " again after a jump to " << rewind_to_
                   << " (a record planted far ahead?); reading from " << rewind_from_;
      seq_ = rewind_from_;
      rewind_from_ = 0;
      gap_next_ = 0;
      bad_seq_ = 0;
      progress.more = true;
      return;
    }
  }
  if (gap_next_ > seq_) {
    if (now - gap_seen_at_ < config_.gap_wait) return;
    // Never skip a record that a fresh look shows (Read's look just now
    // was one), and skip only to a valid record of this stream: a file
    // planted under a far-ahead number must not make us discard the real
    // ones. Names nobody can remove are passed over (the sender did too).
    for (int i = 0; i <= kMaxBlockedNamesPerRecord && gap_next_ > seq_; ++i) {
      switch (LookAny(gap_next_, counters)) {
        case Look::kValid:
          Skip(progress, counters);
          return;
        case Look::kBlocked:
          ++gap_next_;
          continue;
        case Look::kMissing:
        case Look::kRemoved:
          gap_next_ = 0;
          return;
      }
    }
    gap_next_ = 0;
    return;
  }
  // Is a later record there (one was lost or arrives out of order)? Probe
  // rarely: while idle the next record is missing all the time; and not in
  // a read that just delivered records (the chain is moving, and the probe,
  // a look at the ring's files and header, would stand between those
  // frames and the device: the next look that finds nothing does it).
  if (now >= next_gap_probe_ && progress.records == 0) {
    next_gap_probe_ = now + config_.gap_wait / 4;
    if (want_ring_) {
      ProbeRing(now, progress, counters);
    } else if (Exists(config_.inbox_fd, name_->For(seq_ + 1))) {
      NoteLaterRecord(seq_ + 1, now);
    }
  }
}

void InboundStream::Skip(Progress& progress, Counters& counters) {
  const uint64_t distance = gap_next_ - seq_;
  if (distance > kFarJump && config_.auth == nullptr) {
    // Genuine gaps are a few lost or squatted names; this far is more
    // likely a planted record. Go, but keep looking where we were.
    counters.AddDrop("far_jump");
    rewind_from_ = seq_;
    rewind_to_ = gap_next_;
    next_rewind_probe_ = absl::InfinitePast();
  } else {
    counters.AddDrop("gap", distance);
  }
  LOG(WARNING) << "fs: records " << seq_ << ".." << gap_next_ - 1 << " from " << peer_id_
               << " never arrived; skipped after " << config_.gap_wait;
  if (ring_ != nullptr && resync_ && resync_->resync_seq == gap_next_) {
    ring_->JumpTo(resync_->resync_at);
  }
  resync_.reset();
  seq_ = gap_next_;
  gap_next_ = 0;
  progress.more = true;  // read the next one without waiting
}

bool InboundStream::OnBadFile(const char* reason, absl::Time now, Counters& counters) {
  if (bad_seq_ != seq_) {
    bad_seq_ = seq_;
    bad_since_ = now;
    LOG(WARNING) << "fs: record " << seq_ << " from " << peer_id_ << " is invalid (" << reason
                 << "); retrying for " << config_.bad_file_wait;
  }
  if (now - bad_since_ >= config_.bad_file_wait) {
    // Still bad: remove it. A rewrite under the same number is still read;
    // otherwise the gap handling skips the number.
    bad_seq_ = 0;
    next_gap_probe_ = now;
    if (!RemoveEntry(config_.inbox_fd, name_->For(seq_))) return true;
    counters.AddDrop(reason);
    LOG(WARNING) << "fs: removed invalid record " << seq_ << " from " << peer_id_ << " (" << reason
                 << ")";
    return false;
  }
  bad_retry_at_ = now + kBadRetryInterval;
  return false;
}

}  // namespace fstun::fs
