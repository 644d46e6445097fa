// InboundStream: the records one other peer writes into our inbox.
//
// Theory of operation: the reader computes the name of the next record it
// expects ("<peer>.<its session>.<my session>.<seq>.rec") and opens it by
// name; it never needs a listing to find traffic. Read() delivers the
// frames of consecutive records, in order, until the caller's batch is
// full (a record larger than the batch is delivered over several calls)
// or the next record is not there yet (on the polling path, after a Read
// that found nothing, only the first record: set_hand_over_lone):
//   * valid: its frames move to the batch (the file image stays in the
//     stream's buffer until delivered), the file is deleted, seq + 1;
//   * missing: normal. Where the filesystem caches failed lookups (NFS,
//     SMB: FolderProfile) the name is looked up again in a way that
//     defeats that cache before it counts as missing. If a later record is known to exist (probed
//     by name every gap_wait/4, or reported by the inbox collector) and the missing one does not
//     appear within gap_wait, skip to the later one if it is valid, counting the skipped numbers as
//     `gap`;
//   * invalid (checksum, truncated, ...): some shares show a renamed file,
//     or its new size, before its data. Re-read every 10 ms; still bad
//     after bad_file_wait: delete it and count the reason; the gap rule
//     then moves past it if the sender has moved on;
//   * not a regular file, or over 16 MiB: deleted at once and counted.
//   * junk that cannot be removed (a non-empty directory, no permission):
//     no record can ever land there (the sender's rename fails too, and it
//     moves to the next number), so the name counts as missing
//     (`blocked_name`, once per name) and the gap rule moves past it, and
//     past up to kMaxBlockedNamesPerRecord such names in a row.
// Keyed (config.auth set): a record whose tag does not verify (version 1,
// a wrong key, from another stream: `bad_record_auth`), or the peer's own
// record copied under another name (an older session or number:
// `replayed_record`) is as if it were not
// there: counted once per name, never removed by the
// reader (the sender's rename replaces it), never a reason to skip or jump
// (the gap rule skips only to a record that verifies), and not read again
// while it stays the same file (a stat says so). So a writer without the
// key can hold a name only until the sender writes it.
// Jumps: a skip of more than kFarJump numbers (genuine gaps are a few lost
// or squatted names; unkeyed, a planted record can carry any number) is
// counted as `far_jump`, and the name we jumped from is still looked at
// every gap_wait/4 until a record past the landing place is read: if the
// sender's records show up there, the reader goes back (`jump_undone`), so
// a planted far-future record costs at most that look's delay, and genuine
// records are never deleted as "already passed" meanwhile (the inbox
// collector asks WantsEarlierRecord first).
//
// Ring store (set_ring(true): both ends announced store=ring; docs section
// 14): the next record is looked for in its slot of the stream's ring file
// (RingReader) instead of under its own name. Bytes there that are not
// the awaited record (zeros, an earlier lap's record, a half-visible
// write whose CRC fails) are "not there yet"; keyed, a record whose tag
// fails is counted once per number (`bad_record_auth`) and not there.
// Nothing is removed: the writer reuses a slot once the ack says it was
// read. Only the next record's place is known (after the one before it),
// so while it stays missing the reader looks at the ring header's resync
// point every gap_wait/4: where the writer went on after giving up records
// nobody read, or the record after one that was spoiled in place (the
// writer points there after a gap wait without progress). The header is
// not authenticated: the reader moves there only after reading and
// verifying the record (tag, stream, session, number), at once (the
// writer's wait was the gap wait). Keyed, such a skip counts as `gap`
// (a verified record is the sender's); unkeyed, farther than kFarJump as
// `far_jump`, undone when the writer's resync point shows its records
// behind the landing place. The same look notices a ring or ack removed or
// replaced under the held handle (RingReader::CheckFiles). A directory at
// the ring's or ack's name (nothing can replace it) makes the stream look
// for record files too (`blocked_name`, once): the writer falls back to
// them.
#ifndef FSTUN_TRANSPORTS_FS_INBOUND_STREAM_H_
#define FSTUN_TRANSPORTS_FS_INBOUND_STREAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/counters.h"
#include "core/frame.h"
#include "transports/fs/folder_profile.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/names.h"
#include "transports/fs/outbound_stream.h"
#include "transports/fs/record.h"
#include "transports/fs/ring_reader.h"

namespace fstun::fs {

// A skip farther than this is a "far jump" (see above).
inline constexpr uint64_t kFarJump = 16;

// What every inbound stream of one transport shares.
struct InboundConfig {
  int inbox_fd = -1;  // DIR/inbox/<me>, owned by the FsFolder
  uint64_t my_session = 0;
  size_t mtu = 1500;
  bool carry_gso_frames = false;  // we take vnet frames (announced offload=1)
  absl::Duration gap_wait = absl::Seconds(1);
  absl::Duration bad_file_wait = absl::Seconds(1);
  // What the folder's filesystem needs before a missing name is believed
  // missing (NFS and SMB cache failed lookups); nullptr: nothing.
  const FolderProfile* profile = nullptr;
  // Keyed: only records tagged for us (RecordAuth) count; nullptr: unkeyed.
  const LinkAuthenticator* auth = nullptr;
  std::string my_id;
  // The ring store: how its files are opened here; who may read the acks.
  RingIo ring_io = RingIo::kHeld;
  FolderAccess access;
};

class InboundStream {
 public:
  InboundStream(const InboundConfig& config, std::string peer_id)
      : config_(config), peer_id_(std::move(peer_id)) {}

  // (Re)starts at sequence number 1 for the peer's session `peer_session`;
  // `peer_offload`: the peer announced offload=1.
  void Start(uint64_t peer_session, bool peer_offload);
  // The same, continuing a stream of that session at `seq` (the peer's
  // session was replaced for a while, e.g. by a forged announcement).
  void Resume(uint64_t peer_session, bool peer_offload, uint64_t seq);
  // Keyed: the MAC of this peer (from its authenticated announcement).
  void SetMac(const LinkMac* mac);
  // Whether this stream's records come in its ring file (both ends
  // announced store=ring) or as files.
  void set_ring(bool on);
  bool ring() const { return want_ring_; }
  // Where a look is a round trip (the polling path): after a Read that
  // found nothing, the next one delivers the first record it finds and
  // returns (Progress::more) instead of looking for the next record first.
  void set_hand_over_lone(bool on) { hand_over_lone_ = on; }

  struct Progress {
    size_t frames = 0;   // delivered into the batch
    size_t records = 0;  // files read and removed
    bool more = false;   // stopped early: read again without waiting
  };
  // Delivers frames of this stream, in order, into `batch`.
  Progress Read(FrameBatch& batch, absl::Time now, Counters& counters);
  // Writes the ack that waits for the next look (after a look that
  // delivered records), if any. The transport calls it at the start of
  // every look, before it drains its inotify watch and before Read: the
  // write raises an event on the own inbox, which that drain then takes
  // instead of waking the pump from its next sleep for nothing.
  void PublishDueAck(absl::Time now);

  // The inbox collector saw record `seq` (> next_seq()) of this stream.
  void NoteLaterRecord(uint64_t seq, absl::Time now);
  // The inbox collector saw record `seq` (< next_seq()): true if the reader
  // wants it (it may undo a far jump); false: it is a late duplicate.
  bool WantsEarlierRecord(uint64_t seq, absl::Time now);
  uint64_t next_seq() const { return seq_; }
  uint64_t session() const { return peer_session_; }
  uint64_t rx_frames() const { return rx_frames_; }
  uint64_t rx_bytes() const { return rx_bytes_; }

 private:
  // Why `record_` (just parsed from the file for `seq`) is not this
  // stream's record, or nullptr.
  const char* CheckHeader(uint64_t seq) const;
  // Reads `name` into buffer_; a miss is re-checked as the profile says.
  // `keep_open`: where the profile wants a record's name removed while it
  // is open (9p), the file stays open there.
  ReadResult ReadNamed(const char* name, UniqueFd* keep_open = nullptr);
  void OnMissing(absl::Time now, Counters& counters, Progress& progress);
  // True if the file stays bad and cannot be removed.
  bool OnBadFile(const char* reason, absl::Time now, Counters& counters);
  // What is under `seq`'s name: junk is removed (counted) where possible.
  enum class Look { kValid, kMissing, kRemoved, kBlocked };
  Look LookAt(uint64_t seq, Counters& counters);
  // The same for the ring store: kValid or kMissing (nothing is removed).
  // `image` (read from the ring where record `seq` goes) parsed into record_:
  // whether it is that record of this stream, for us. Keyed, a tag that
  // fails is noted as forged.
  bool IsRingRecord(absl::Span<const uint8_t> image, uint64_t seq, Counters& counters);
  Look LookInRing(uint64_t seq, Counters& counters);
  Look LookAny(uint64_t seq, Counters& counters) {
    return want_ring_ ? LookInRing(seq, counters) : LookAt(seq, counters);
  }
  // Read() from the ring: true to go on with the next record.
  bool ReadRing(absl::Time now, Counters& counters, Progress& progress);
  // While the next record is missing: the ring header's resync point (the
  // writer gave up records nobody read, or started again).
  void ProbeRing(absl::Time now, Progress& progress, Counters& counters);
  // The stream's ring reader, made on first use.
  RingReader* Ring();
  // A directory at the ring's or the ack's name: records come as files
  // (the writer could not make its ring either); looked for both ways.
  void BlockRing(Counters& counters);
  // Moves to gap_next_ (a valid record), counting what was skipped.
  void Skip(Progress& progress, Counters& counters);
  bool IsBlocked(uint64_t seq) const;
  void NoteBlocked(uint64_t seq, Counters& counters);
  // Keyed: why record_ (parsed) is not this peer's record `seq` for us
  // (bad_record_auth: its tag fails; replayed_record: it is the peer's,
  // but another record), or nullptr. Unkeyed: nullptr.
  const char* Forged(uint64_t seq) const;
  // Such a file under `seq`'s name: counted once per name.
  // `named`: a record file (its identity is remembered: StillForged).
  void NoteForged(uint64_t seq, const char* reason, Counters& counters, bool named);
  // The file under the current name is the forged one seen before.
  bool StillForged(const char* name) const;
  struct FileId {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileId& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns &&
             ctime_ns == o.ctime_ns;
    }
  };
  FileId IdOf(const char* name) const;

  const InboundConfig& config_;
  const std::string peer_id_;
  uint64_t peer_session_ = 0;
  bool peer_offload_ = false;
  std::unique_ptr<SeqName> name_;
  uint64_t seq_ = 1;
  ByteBuffer buffer_;  // the current record's file image
  UniqueFd open_;      // its file, until its name is removed (ReadNamed)
  ParsedRecord record_;
  size_t record_pos_ = 0;  // frames of record_ delivered
  uint64_t gap_next_ = 0;  // a later record known to exist
  absl::Time gap_seen_at_ = absl::InfinitePast();
  absl::Time next_gap_probe_ = absl::InfinitePast();
  std::vector<uint64_t> blocked_;  // names (>= seq_) that cannot be removed
  uint64_t rewind_from_ = 0;       // a far jump went from here...
  uint64_t rewind_to_ = 0;         // ...to here
  absl::Time next_rewind_probe_ = absl::InfinitePast();
  const LinkMac* mac_ = nullptr;
  // The current name's file that failed authentication (not read again
  // while it stays), and the names (>= seq_) already counted.
  uint64_t forged_seq_ = 0;
  FileId forged_file_;
  std::vector<uint64_t> forged_;
  uint64_t bad_seq_ = 0;  // the record that failed validation
  absl::Time bad_since_ = absl::InfinitePast();
  absl::Time bad_retry_at_ = absl::InfinitePast();
  uint64_t rx_frames_ = 0;
  uint64_t rx_bytes_ = 0;
  bool want_ring_ = false;
  std::string prefix_;  // "<peer>.<its session>.<my session>."
  std::unique_ptr<RingReader> ring_;
  bool ack_due_ = false;              // caught up after delivering records: ack at the next Read
  std::optional<RingHeader> resync_;  // a resync point ahead of the reader
  bool ring_blocked_ = false;
  bool hand_over_lone_ = false;
  bool waiting_ = true;  // the last Read ended finding nothing (not stopped early)
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_INBOUND_STREAM_H_
