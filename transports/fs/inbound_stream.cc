#include "transports/fs/inbound_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "glog/logging.h"

namespace fstun::fs {
namespace {

constexpr absl::Duration kBadRetryInterval = absl::Milliseconds(10);

}  // namespace

void InboundStream::Start(uint64_t peer_session, bool peer_offload) {
  peer_session_ = peer_session;
  peer_offload_ = peer_offload;
  name_ = std::make_unique<SeqName>("", StreamPrefix(peer_id_, peer_session, config_.my_session),
                                    kRecordSuffix);
  seq_ = 1;
  record_.frames.clear();
  record_pos_ = 0;
  gap_next_ = 0;
  bad_seq_ = 0;
  next_gap_probe_ = absl::InfinitePast();
}

InboundStream::Progress InboundStream::Read(FrameBatch& batch, absl::Time now, Counters& counters) {
  Progress progress;
  if (name_ == nullptr) return progress;
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
    if (bad_seq_ == seq_ && now < bad_retry_at_) break;
    const char* name = name_->For(seq_);
    ReadResult r = ReadNamed(name);
    if (r.outcome == ReadOutcome::kMissing) {
      OnMissing(now, counters, progress);
      break;
    }
    if (r.outcome == ReadOutcome::kNotRegular || r.outcome == ReadOutcome::kTooLarge) {
      // Never a record we wrote: remove it now. The sender may still write
      // this number (its rename replaces whatever is there).
      RemoveEntry(config_.inbox_fd, name);
      counters.AddDrop(r.outcome == ReadOutcome::kNotRegular ? "not_regular" : "oversize_file");
      break;
    }
    if (r.outcome == ReadOutcome::kError) {
      LOG_EVERY_T(WARNING, 1) << "fs: reading " << name << ": " << strerror(r.error);
      break;
    }
    RecordError e = ParseRecord(buffer_.span(), config_.mtu, record_);
    const char* reason = e == RecordError::kOk ? CheckHeader(seq_) : RecordErrorName(e);
    if (reason != nullptr) {
      record_.frames.clear();
      record_pos_ = 0;
      OnBadFile(reason, now, counters);
      break;
    }
    // The frames now live in buffer_: the file can go.
    unlinkat(config_.inbox_fd, name, 0);
    ++progress.records;
    ++seq_;
    record_pos_ = 0;
    gap_next_ = 0;
    bad_seq_ = 0;
  }
  if (batch.full()) progress.more = true;
  if (progress.frames > 0) {
    counters.AddRx(progress.frames, bytes);
    rx_frames_ += progress.frames;
    rx_bytes_ += bytes;
  }
  return progress;
}

ReadResult InboundStream::ReadNamed(const char* name) {
  ReadResult r = ReadRegularFile(config_.inbox_fd, name, kMaxRecordBytes, buffer_);
  if (r.outcome == ReadOutcome::kMissing && config_.profile != nullptr &&
      RevalidateName(*config_.profile, config_.inbox_fd, name)) {
    r = ReadRegularFile(config_.inbox_fd, name, kMaxRecordBytes, buffer_);
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

void InboundStream::NoteLaterRecord(uint64_t seq, absl::Time now) {
  if (seq <= seq_) return;
  if (gap_next_ == 0 || seq < gap_next_) {
    if (gap_next_ == 0) gap_seen_at_ = now;
    gap_next_ = seq;
  }
}

void InboundStream::OnMissing(absl::Time now, Counters& counters, Progress& progress) {
  if (gap_next_ > seq_) {
    if (now - gap_seen_at_ < config_.gap_wait) return;
    // Never skip a record that a fresh look shows (Read's look just now
    // was one), and skip only to a valid record of this stream: a file
    // planted under a far-ahead number must not make us discard the real
    // ones.
    const char* later = name_->For(gap_next_);
    ReadResult r = ReadNamed(later);
    RecordError e = r.outcome == ReadOutcome::kOk
                        ? ParseRecord(buffer_.span(), config_.mtu, record_)
                        : RecordError::kBadHeader;
    const char* reason = e == RecordError::kOk ? CheckHeader(gap_next_) : RecordErrorName(e);
    record_.frames.clear();
    record_pos_ = 0;
    if (r.outcome == ReadOutcome::kMissing) {
      gap_next_ = 0;
      return;
    }
    if (reason != nullptr) {
      RemoveEntry(config_.inbox_fd, later);
      counters.AddDrop(r.outcome == ReadOutcome::kNotRegular ? "not_regular" : reason);
      gap_next_ = 0;
      return;
    }
    counters.AddDrop("gap", gap_next_ - seq_);
    LOG(WARNING) << "fs: records " << seq_ << ".." << gap_next_ - 1 << " from " << peer_id_
                 << " never arrived; skipped after " << config_.gap_wait;
    seq_ = gap_next_;
    gap_next_ = 0;
    progress.more = true;  // read the next one without waiting
    return;
  }
  // Is a later record there (one was lost or arrives out of order)? Probe
  // rarely: while idle the next record is missing all the time.
  if (now >= next_gap_probe_) {
    next_gap_probe_ = now + config_.gap_wait / 4;
    if (Exists(config_.inbox_fd, name_->For(seq_ + 1))) NoteLaterRecord(seq_ + 1, now);
  }
}

void InboundStream::OnBadFile(const char* reason, absl::Time now, Counters& counters) {
  if (bad_seq_ != seq_) {
    bad_seq_ = seq_;
    bad_since_ = now;
    LOG(WARNING) << "fs: record " << seq_ << " from " << peer_id_ << " is invalid (" << reason
                 << "); retrying for " << config_.bad_file_wait;
  }
  if (now - bad_since_ >= config_.bad_file_wait) {
    // Still bad: remove it. A rewrite under the same number is still read;
    // otherwise the gap handling skips the number.
    RemoveEntry(config_.inbox_fd, name_->For(seq_));
    counters.AddDrop(reason);
    LOG(WARNING) << "fs: removed invalid record " << seq_ << " from " << peer_id_ << " (" << reason
                 << ")";
    bad_seq_ = 0;
    next_gap_probe_ = now;
    return;
  }
  bad_retry_at_ = now + kBadRetryInterval;
}

}  // namespace fstun::fs
