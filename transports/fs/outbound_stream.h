// OutboundStream: the records this peer writes into one other peer's inbox.
//
// Theory of operation: a stream is (me, my session, the peer, its session);
// it starts at sequence number 1 whenever either side starts a session.
// Write() turns a run of frames into as few records as fit
// --fs_max_file_bytes, each written as a temp file and renamed to its final
// name ("<me>.<my session>.<its session>.<seq>.rec") with one writev. The
// peer deletes what it read, so the names still present are the unread
// backlog: Reclaim() opens outstanding names (opening asks the server;
// cached attributes may still claim a deleted file) and forgets those that
// are gone; the peer reads in order, so a binary search finds where the
// gone ones end in log2(n) opens. A write that would pass --fs_max_backlog_bytes
// first reclaims, then writes what fits and drops the rest
// (`backlog_full`), as a full NIC queue drops. DropUnread() deletes what
// the peer never read (it restarted or went away). Temp names carry a
// random part (fs_io.h), so nobody can squat them; a final name occupied by
// a directory (a rename cannot replace it) is given up and the record goes
// under the next number (`blocked_name`, at most kMaxBlockedNamesPerRecord
// in a row).
//
// Coalescing (coalesce_max > 0 and set_coalesce; FsTransport turns it on
// only where a folder is served by another kernel): every record costs its
// reader an open, read, close and unlink, which on a slow reader (a guest
// with an emulated CPU reading a 9p or virtiofs share) dominates bulk
// transfers, and a fast writer ACK-clocked by that reader otherwise writes
// each ACK step as its own few-KB record. So records to one peer are written
// at most every coalesce_max: frames that come sooner after the last record
// are held in memory (copied, at most one record's worth within the backlog
// cap) and Flush() writes them as one record when that time has passed. The
// first frame after a pause is written at once, and so is a frame that
// comes alone (more than coalesce_max/2 after the one before: a ping, even
// at 100 a second); a frame is never held longer than coalesce_max.
//
// Ring store (set_ring(true): both ends announced store=ring; docs section
// 14): records go into the slots of one ring file per stream (RingWriter)
// instead of one file each: one pwritev per record. The backlog is the
// records the reader's ack does not cover yet; a record whose place still
// holds an unread one is not written (`backlog_full`), after one look at
// the ack. DropUnread() lets the writer overwrite what was not read, and
// so does a ring that stays full while its ack does not move for
// ring_stall (`ring_stalled`). A record spoiled in place costs about a gap
// wait instead: the writer moves the header's resync point past it
// (ring_writer.h). Keyed, the reader's ack must verify (`bad_ack_auth`).
// A ring removed, replaced or cut short under its name is noticed within
// 100 ms while records are unread, 250 ms while none are
// (RingWriter::CheckFiles), and created anew (`ring_replaced`); if the
// inbox itself is gone, the peer stopped: what follows counts `peer_gone`
// at once. A name nobody can replace (a directory at the ring's or the
// ack's name) makes the stream use record files instead (`blocked_name`,
// once); the reader looks for both (InboundStream).
#ifndef FSTUN_TRANSPORTS_FS_OUTBOUND_STREAM_H_
#define FSTUN_TRANSPORTS_FS_OUTBOUND_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"
#include "sys/unique_fd.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"
#include "transports/fs/ring_writer.h"

namespace fstun::fs {

// Names in a row a record skips when directories occupy them.
inline constexpr int kMaxBlockedNamesPerRecord = 8;

// What every outbound stream of one transport shares.
struct OutboundConfig {
  std::string my_id;
  uint64_t my_session = 0;
  size_t max_file_bytes = 1 << 20;
  size_t max_backlog_bytes = 32 << 20;
  FolderAccess access;
  // Records to one peer at most this often (see above); 0: off.
  absl::Duration coalesce_max = absl::ZeroDuration();
  // Keyed: records are tagged (format version 2) with the peer's MAC.
  bool keyed = false;
  // The ring store: how its files are opened here, and their shape.
  RingIo ring_io = RingIo::kHeld;
  RingGeometry ring_geometry;
  // A full ring whose ack has not moved for this long: the reader is stuck
  // (on a record made invalid in place); the unread records are given up
  // (`ring_stalled`) and the writer resyncs.
  absl::Duration ring_stall = absl::Seconds(5);
  // An ack that has not moved for this long while later records wait: the
  // reader may be stuck at a record spoiled in place; the header's resync
  // point moves past it (RingWriter::MaybeMoveResync). The gap wait.
  absl::Duration ring_resync_wait = absl::Seconds(1);
};

class OutboundStream {
 public:
  OutboundStream(const OutboundConfig& config, std::string peer_id)
      : config_(config), peer_id_(std::move(peer_id)) {}
  ~OutboundStream();
  OutboundStream(const OutboundStream&) = delete;
  OutboundStream& operator=(const OutboundStream&) = delete;

  // (Re)starts at sequence number 1 towards the peer's session
  // `peer_session`, writing into `inbox_fd` (taken over; -1: the peer's
  // inbox is not there yet, SetInbox later). Forgets the old backlog
  // (DropUnread first to delete it).
  void Start(int inbox_fd, uint64_t peer_session);
  // The same, continuing at `seq` (the peer's session came back after a
  // forged one: it still waits there).
  void Resume(int inbox_fd, uint64_t peer_session, uint64_t seq);
  void SetInbox(int inbox_fd);
  // Whether coalesce_max applies to this stream (on unless turned off:
  // FsTransport decides per peer).
  void set_coalesce(bool on) { coalesce_ = on; }
  // Whether records go into the stream's ring file (both ends announced
  // store=ring) or into a file each.
  void set_ring(bool on);
  bool ring() const { return ring_ != nullptr; }
  // Keyed: the MAC of this peer (from its authenticated announcement).
  void SetMac(const LinkMac* mac);
  // The peer's inbox (also where doorbells are rung), or -1.
  int inbox_fd() const { return inbox_fd_.get(); }

  // Writes `frames` in order as records with `flags` (or holds them; see
  // above). Every frame is either written
  // (counted as tx), held, or dropped and counted in `counters`.
  void Write(absl::Span<const FrameView> frames, uint32_t flags, Counters& counters,
             absl::Time now);
  // Writes held frames once coalesce_max has passed since the last record
  // (`force`: now).
  void Flush(absl::Time now, Counters& counters, bool force = false);
  bool has_held() const { return !held_sizes_.empty(); }
  // Forgets records the peer has consumed; returns how many. `routine`
  // (the pump's 50 ms housekeeping, not a need for room or the exact
  // number): the ring store's ack is read only when RingWriter says it is
  // due, so a record just written does not put an ack read between it and
  // the look for its reply.
  size_t Reclaim(bool routine = false);
  // The number the peer waits for: the oldest record it has not read (after
  // a Reclaim), or the next one to write.
  uint64_t FirstUnread();
  // Deletes the records the peer has not read and forgets held frames;
  // counts their frames as dropped for `reason` (nullptr: not counted,
  // e.g. on a clean stop).
  void DropUnread(const char* reason, Counters& counters);

  size_t backlog_bytes() const { return backlog_bytes_; }
  uint64_t next_seq() const { return seq_; }
  uint64_t tx_frames() const { return tx_frames_; }
  uint64_t tx_bytes() const { return tx_bytes_; }

 private:
  struct Outstanding {
    uint64_t seq;
    size_t bytes;
    size_t frames;
  };
  // Writes one record of `frames`; false if the inbox went away.
  bool WriteRecord(absl::Span<const FrameView> frames, size_t payload, uint32_t flags,
                   Counters& counters);
  // Write() without holding.
  void WriteNow(absl::Span<const FrameView> frames, uint32_t flags, Counters& counters);
  // Whether `frames` should be held at `now` (frames are held already, or
  // the last record is younger than coalesce_max and the frame before these
  // came at `previous_frame_at`, less than coalesce_max/2 ago; and they fit
  // one record with what is held already).
  bool ShouldHold(absl::Span<const FrameView> frames, uint32_t flags, absl::Time now,
                  absl::Time previous_frame_at);
  void FlushHeld(Counters& counters);
  // The ring writer, opened if the ring store is wanted; nullptr otherwise
  // (or if it cannot be opened: logged).
  RingWriter* Ring();

  const OutboundConfig& config_;
  const std::string peer_id_;
  UniqueFd inbox_fd_;
  std::unique_ptr<SeqName> name_;
  uint64_t peer_session_ = 0;
  const LinkMac* mac_ = nullptr;
  uint64_t seq_ = 1;
  std::deque<Outstanding> outstanding_;  // written, not yet seen consumed
  size_t backlog_bytes_ = 0;
  RecordEncoder encoder_;
  uint64_t tx_frames_ = 0;
  uint64_t tx_bytes_ = 0;
  // Held frames: their bytes back to back, each one's size, their flags.
  std::string held_;
  std::vector<size_t> held_sizes_;
  uint32_t held_flags_ = 0;
  absl::Time last_record_at_ = absl::InfinitePast();
  absl::Time last_frame_at_ = absl::InfinitePast();  // the last Write's
  bool coalesce_ = true;
  absl::Time now_ = absl::InfinitePast();  // of the current Write or Flush
  bool want_ring_ = false;
  std::string prefix_;  // "<me>.<my session>.<its session>."
  std::unique_ptr<RingWriter> ring_;
  bool ring_gone_ = false;        // the ring could not be opened: its inbox is gone
  bool ring_blocked_ = false;     // a directory at the ring's or the ack's name
  uint64_t bad_acks_ = 0;         // forged acks seen, not yet counted
  uint64_t impossible_acks_ = 0;  // acks past what was written, not yet counted
  uint64_t blocked_rings_ = 0;    // the same for a blocked ring
  uint64_t replaced_rings_ = 0;   // and a ring removed, replaced or cut short
  // Counts what Reclaim (which has no counters) saw.
  void CountPending(Counters& counters);
  // The ring cannot be used for this stream (see above).
  void BlockRing();
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_OUTBOUND_STREAM_H_
