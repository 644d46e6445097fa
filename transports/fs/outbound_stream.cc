#include "transports/fs/outbound_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "glog/logging.h"

namespace fstun::fs {

OutboundStream::~OutboundStream() = default;

void OutboundStream::Start(int inbox_fd, uint64_t peer_session) {
  Resume(inbox_fd, peer_session, 1);
  // Held frames were for the old session (DropUnread counted them).
  held_.clear();
  held_sizes_.clear();
  last_record_at_ = absl::InfinitePast();
  last_frame_at_ = absl::InfinitePast();
}

void OutboundStream::Resume(int inbox_fd, uint64_t peer_session, uint64_t seq) {
  SetInbox(inbox_fd);
  prefix_ = StreamPrefix(config_.my_id, config_.my_session, peer_session);
  name_ = std::make_unique<SeqName>("", prefix_, kRecordSuffix);
  ring_.reset();
  ring_blocked_ = false;
  peer_session_ = peer_session;
  seq_ = seq;
  outstanding_.clear();
  backlog_bytes_ = 0;
}

void OutboundStream::SetInbox(int inbox_fd) {
  if (inbox_fd != inbox_fd_.get()) ring_.reset();  // it writes through the old fd
  inbox_fd_.reset(inbox_fd);
}

void OutboundStream::set_ring(bool on) {
  if (on == want_ring_) return;
  want_ring_ = on;
  if (!on) ring_.reset();
}

RingWriter* OutboundStream::Ring() {
  if (!want_ring_ || ring_blocked_ || !inbox_fd_.valid() || name_ == nullptr) return nullptr;
  if (ring_ == nullptr) {
    auto ring = std::make_unique<RingWriter>(inbox_fd_.get(), prefix_, config_.ring_geometry,
                                             config_.ring_io, config_.access, seq_);
    if (config_.keyed) {
      ring->SetAuth(AckAuth{mac_, config_.my_id, config_.my_session, peer_id_, peer_session_});
    }
    if (absl::Status s = ring->Open(); !s.ok()) {
      ring_gone_ = absl::IsNotFound(s);  // the inbox went away (the peer stopped)
      if (absl::IsFailedPrecondition(s)) {
        BlockRing();
      } else {
        LOG_EVERY_T(WARNING, 10) << "fs: cannot open the ring file to peer " << peer_id_ << ": "
                                 << s;
      }
      return nullptr;
    }
    LOG_FIRST_N(INFO, 4) << "fs: records to peer " << peer_id_ << " go into a ring file of "
                         << config_.ring_geometry.end << " bytes (" << RingIoName(ring->io())
                         << ")";
    ring_ = std::move(ring);
  }
  return ring_.get();
}

void OutboundStream::SetMac(const LinkMac* mac) {
  mac_ = mac;
  if (ring_ != nullptr && config_.keyed) {
    ring_->SetAuth(AckAuth{mac_, config_.my_id, config_.my_session, peer_id_, peer_session_});
  }
}

void OutboundStream::BlockRing() {
  if (ring_blocked_) return;
  ring_blocked_ = true;
  ring_.reset();
  ++blocked_rings_;
  LOG(WARNING) << "fs: the ring file or ack of the stream to peer " << peer_id_
               << " is blocked by something that cannot be replaced (a directory?); this "
                  "stream's records go into files instead";
}

void OutboundStream::CountPending(Counters& counters) {
  if (bad_acks_ > 0) counters.AddDrop("bad_ack_auth", std::exchange(bad_acks_, 0));
  if (impossible_acks_ > 0) counters.AddDrop("bad_ack", std::exchange(impossible_acks_, 0));
  if (replaced_rings_ > 0) counters.AddDrop("ring_replaced", std::exchange(replaced_rings_, 0));
  if (blocked_rings_ > 0) counters.AddDrop("blocked_name", std::exchange(blocked_rings_, 0));
}

void OutboundStream::Write(absl::Span<const FrameView> frames, uint32_t flags, Counters& counters,
                           absl::Time now) {
  if (frames.empty()) return;
  now_ = now;
  Flush(now, counters);  // what is held goes first once its time has come
  // A frame that follows the last one closely is part of a stream; one that
  // comes alone (a ping, even at 100 a second; a keystroke; a request) is
  // written at once (ShouldHold).
  const absl::Time previous_frame_at = std::exchange(last_frame_at_, now);
  if (!ShouldHold(frames, flags, now, previous_frame_at)) {
    // They do not fit with what is held: that goes first (and the new ones
    // are then held behind the record just written), or nothing is held
    // and the last record is old enough: written at once.
    if (!held_sizes_.empty()) {
      FlushHeld(counters);
      last_record_at_ = now;
    }
    if (!ShouldHold(frames, flags, now, previous_frame_at)) {
      WriteNow(frames, flags, counters);
      last_record_at_ = now;
      return;
    }
  }
  if (held_sizes_.empty()) held_flags_ = flags;
  for (FrameView f : frames) {
    held_.append(reinterpret_cast<const char*>(f.data()), f.size());
    held_sizes_.push_back(f.size());
  }
}

bool OutboundStream::ShouldHold(absl::Span<const FrameView> frames, uint32_t flags, absl::Time now,
                                absl::Time previous_frame_at) {
  if (!coalesce_ || config_.coalesce_max <= absl::ZeroDuration() || !inbox_fd_.valid() ||
      name_ == nullptr) {
    return false;
  }
  if (!held_sizes_.empty() && flags != held_flags_) return false;
  size_t bytes = held_.size();
  for (FrameView f : frames) bytes += f.size();
  const size_t count = held_sizes_.size() + frames.size();
  const size_t record = RecordSize(config_.my_id.size(), count, bytes, config_.keyed);
  // Too many for one record, or past the backlog cap (Write drops there).
  if (count > kMaxRecordFrames || record > config_.max_file_bytes ||
      backlog_bytes_ + record > config_.max_backlog_bytes) {
    return false;
  }
  // Held: join them. Otherwise hold only within coalesce_max of the last
  // record and within half of it of the last frame: a frame to this peer
  // that comes alone is not held up to coalesce_max (at 100 pings a second
  // every reply waited ~10 ms on sshfs).
  return !held_sizes_.empty() || (now - last_record_at_ < config_.coalesce_max &&
                                  now - previous_frame_at < config_.coalesce_max / 2);
}

void OutboundStream::Flush(absl::Time now, Counters& counters, bool force) {
  now_ = now;
  if (held_sizes_.empty()) return;
  if (!force && now - last_record_at_ < config_.coalesce_max) return;
  FlushHeld(counters);
  last_record_at_ = now;
}

void OutboundStream::FlushHeld(Counters& counters) {
  if (held_sizes_.empty()) return;
  std::vector<FrameView> views;
  views.reserve(held_sizes_.size());
  const uint8_t* p = reinterpret_cast<const uint8_t*>(held_.data());
  for (size_t n : held_sizes_) {
    views.emplace_back(p, n);
    p += n;
  }
  WriteNow(views, held_flags_, counters);
  held_.clear();
  held_sizes_.clear();
}

void OutboundStream::WriteNow(absl::Span<const FrameView> frames, uint32_t flags,
                              Counters& counters) {
  CountPending(counters);
  if (!inbox_fd_.valid() || name_ == nullptr) {
    counters.AddDrop("no_route", frames.size());
    return;
  }
  const size_t id_length = config_.my_id.size();
  const size_t cap = config_.max_backlog_bytes;
  size_t i = 0;
  while (i < frames.size()) {
    // The next record: as many frames as fit one file.
    size_t n = 0;
    size_t bytes = 0;
    while (i + n < frames.size() && n < kMaxRecordFrames) {
      size_t grown = RecordSize(id_length, n + 1, bytes + frames[i + n].size(), config_.keyed);
      if (n > 0 && grown > config_.max_file_bytes) break;
      bytes += frames[i + n].size();
      ++n;
    }
    if (backlog_bytes_ + RecordSize(id_length, n, bytes, config_.keyed) > cap) Reclaim();
    bool full = false;
    if (want_ring_ && !ring_blocked_) {
      RingWriter* ring = Ring();
      if (ring == nullptr && ring_blocked_) {
        CountPending(counters);  // and on with record files
      } else if (ring == nullptr) {
        // As for record files: lost because the peer left, or a failure.
        counters.AddDrop(ring_gone_ ? "peer_gone" : "write_error", frames.size() - i);
        if (ring_gone_) SetInbox(-1);
        return;
      } else {
        // Its place still holds a record the reader has not read: look at
        // the ack once; still unread: the ring is full.
        const size_t record = RecordSize(id_length, n, bytes, config_.keyed);
        if (!ring->Fits(record)) Reclaim();
        if (!ring->Fits(record) && now_ - ring->acked_at() >= config_.ring_stall) {
          // Full, and the reader has not moved for ring_stall although it
          // beats: it cannot pass a record (made invalid in place). Give the
          // unread ones up; the next record carries a resync point.
          size_t lost = 0;
          for (const Outstanding& o : outstanding_) lost += o.frames;
          counters.AddDrop("ring_stalled", lost);
          LOG(WARNING) << "fs: peer " << peer_id_ << " read nothing of its ring for "
                       << config_.ring_stall << " while it was full; " << lost
                       << " unread frames given up, writing on behind a resync point";
          outstanding_.clear();
          backlog_bytes_ = 0;
          ring->ForgetUnread();
        }
        if (!ring->Fits(record)) {
          full = true;
          n = 0;
        }
      }
    }
    while (n > 0 && backlog_bytes_ + RecordSize(id_length, n, bytes, config_.keyed) > cap) {
      full = true;
      --n;
      bytes -= frames[i + n].size();
    }
    if (n > 0 && !WriteRecord(frames.subspan(i, n), bytes, flags, counters)) {
      counters.AddDrop("peer_gone", frames.size() - i - n);  // its inbox is gone
      return;
    }
    i += n;
    if (full) {
      counters.AddDrop("backlog_full", frames.size() - i);
      return;
    }
  }
}

bool OutboundStream::WriteRecord(absl::Span<const FrameView> frames, size_t payload, uint32_t flags,
                                 Counters& counters) {
  absl::Status s;
  // A directory someone put under the record's name cannot be replaced by a
  // rename (nor removed from here: the name is in the peer's inbox). The
  // number is given up (the reader treats an entry it cannot remove as
  // missing, and its gap rule moves past it) and the record goes under the
  // next one, so a few squatted names lose no frame.
  for (int attempt = 0; attempt <= kMaxBlockedNamesPerRecord; ++attempt) {
    const uint64_t seq = seq_;
    // Keyed: tagged for the peer (no MAC: a peer we cannot authenticate to
    // is never in the table, so this does not happen).
    const RecordAuth auth{mac_, peer_id_, peer_session_};
    absl::Span<const iovec> iov = encoder_.Encode(config_.my_id, config_.my_session, seq, frames,
                                                  flags, config_.keyed ? &auth : nullptr);
    bool blocked = false;
    if (ring_ != nullptr) {
      s = ring_->Write(seq, iov, encoder_.size());
      if (absl::IsNotFound(s)) {
        // Removed or replaced under us: a new ring, unless the inbox is
        // gone too (the peer stopped).
        s = ring_->Open();
        if (absl::IsFailedPrecondition(s)) {
          BlockRing();
          s = WriteRecordFile(inbox_fd_.get(), name_->For(seq), iov, config_.access, &blocked);
        } else if (s.ok()) {
          s = ring_->Write(seq, iov, encoder_.size());
        }
      }
    } else {
      s = WriteRecordFile(inbox_fd_.get(), name_->For(seq), iov, config_.access, &blocked);
    }
    if (s.ok()) {
      outstanding_.push_back({seq, encoder_.size(), frames.size()});
      backlog_bytes_ += encoder_.size();
      ++seq_;
      counters.AddTx(frames.size(), payload);
      tx_frames_ += frames.size();
      tx_bytes_ += payload;
      return true;
    }
    if (!blocked) break;
    ++seq_;
    counters.AddDrop("blocked_name");
    LOG_EVERY_T(WARNING, 10) << "fs: record " << seq << " to peer " << peer_id_
                             << " cannot be written (a directory occupies its name); using the "
                                "next number";
  }
  if (absl::IsNotFound(s)) {
    // The inbox went away: the peer stopped (a clean stop removes it) or is
    // restarting. Its frames are lost because it left, not because writing
    // failed.
    counters.AddDrop("peer_gone", frames.size());
    LOG_EVERY_T(INFO, 1) << "fs: peer " << peer_id_ << "'s inbox is gone (it stopped?)";
    SetInbox(-1);
    return false;
  }
  counters.AddDrop("write_error", frames.size());
  LOG_EVERY_T(WARNING, 1) << "fs: writing to peer " << peer_id_ << " failed: " << s;
  return true;
}

size_t OutboundStream::Reclaim(bool routine) {
  if (!inbox_fd_.valid()) return 0;
  if (ring_ != nullptr) {
    // The reader's ack says how far it read (one pread, only while records
    // are outstanding).
    const absl::Time now = absl::Now();
    const RingWriter::Files files = ring_->CheckFiles(now);
    if (files == RingWriter::Files::kRepaired) ++replaced_rings_;
    if (files == RingWriter::Files::kGone) {
      absl::Status s = ring_->Open();
      if (!s.ok()) {
        // The inbox is gone (the peer stopped): what follows counts
        // peer_gone at once (Ring() cannot open it again); the unread
        // records count when the peer table drops the peer.
        ring_.reset();
        ring_gone_ = absl::IsNotFound(s);
        if (absl::IsFailedPrecondition(s)) BlockRing();
        LOG_EVERY_T(INFO, 1) << "fs: the ring file to peer " << peer_id_ << " is gone: " << s;
        return 0;
      }
      ++replaced_rings_;
      LOG_EVERY_T(WARNING, 10) << "fs: the ring file to peer " << peer_id_
                               << " was removed or replaced; writing into a new one";
    }
    if (outstanding_.empty()) return 0;
    if (routine && !ring_->AckLookDue(now)) return 0;
    const uint64_t acked = ring_->RefreshAck();
    bad_acks_ += ring_->TakeBadAcks();
    impossible_acks_ += ring_->TakeImpossibleAcks();
    if (ring_->ack_blocked()) {
      BlockRing();
      return 0;
    }
    size_t gone = 0;
    while (!outstanding_.empty() && outstanding_.front().seq <= acked) {
      backlog_bytes_ -= outstanding_.front().bytes;
      outstanding_.pop_front();
      ++gone;
    }
    ring_->MaybeMoveResync(now, config_.ring_resync_wait);
    return gone;
  }
  // The peer reads in sequence (a record it skipped as a gap is lost to it
  // as well), so the records gone from its inbox are a prefix of
  // outstanding_. Find where that prefix ends with O(log n) lookups, not one
  // per record: on a FUSE or network share each is a round trip, and a bulk
  // sender has hundreds outstanding per reclaim interval.
  size_t gone = 0;                       // outstanding_[0, gone) are gone
  size_t present = outstanding_.size();  // [present, size) are assumed there
  while (gone < present) {
    const size_t mid = gone + (present - gone) / 2;
    if (Exists(inbox_fd_.get(), name_->For(outstanding_[mid].seq))) {
      present = mid;
    } else {
      gone = mid + 1;
    }
  }
  for (size_t i = 0; i < gone; ++i) {
    backlog_bytes_ -= outstanding_.front().bytes;
    outstanding_.pop_front();
  }
  return gone;
}

uint64_t OutboundStream::FirstUnread() {
  Reclaim();
  return outstanding_.empty() ? seq_ : outstanding_.front().seq;
}

void OutboundStream::DropUnread(const char* reason, Counters& counters) {
  CountPending(counters);
  if (reason != nullptr && !held_sizes_.empty()) counters.AddDrop(reason, held_sizes_.size());
  held_.clear();
  held_sizes_.clear();
  Reclaim();
  for (const Outstanding& o : outstanding_) {
    if (inbox_fd_.valid() && ring_ == nullptr) unlinkat(inbox_fd_.get(), name_->For(o.seq), 0);
    if (reason != nullptr) counters.AddDrop(reason, o.frames);
  }
  if (ring_ != nullptr) {
    // A clean stop ends the stream: its ring goes. Otherwise the unread
    // slots may be overwritten (a reader that comes back skips them), and
    // the disk they took is given back (a reader that never comes back
    // leaves a sparse file, as the names store leaves no record).
    if (reason == nullptr) {
      ring_->Remove();
      ring_.reset();
    } else {
      ring_->ReleaseSpace();
    }
  }
  outstanding_.clear();
  backlog_bytes_ = 0;
}

}  // namespace fstun::fs
