// The ring store's file: one preallocated file per stream instead of one
// new file per record (--fs_store=ring, docs/fs-transport.md section 14).
//
//   DIR/inbox/<R>/<S>.<SS>.<RS>.ring   written by S only: a 4 KiB header,
//                                      then records back to back, wrapping
//   DIR/inbox/<R>/<S>.<SS>.<RS>.ack    written by R only: how far R read
//
// Ring header (offset 0, little-endian): magic "FSRG", version 1 (u16),
// zero (u16), max_record (u32: no record is larger), zero (u32), end (u64:
// the file's size), resync_seq (u64), resync_at (u64), CRC-32C of the 40
// bytes before it. Records are written in order, each at a multiple of
// kRingAlign, as exactly the bytes a record file would hold (record.h:
// format 1, or 2 keyed): the first at kRingHeaderBytes, each next one
// after the previous (rounded up to kRingAlign), or back at
// kRingHeaderBytes when a record of max_record bytes would not fit before
// `end` (RingGeometry::Next), so a reader finds record n+1 from record n
// alone. Record `resync_seq` is at `resync_at`: where the writer started
// (or started again after giving up records nobody read: a reader that
// lost the chain finds it there). A record's magic, session, sequence
// number, CRC and tag are what tell a reader that the place holds the
// record it waits for; anything else there (zeros, an older lap's record,
// a half-visible write) is simply "not there yet".
//
// Ack (offset 0, 32 bytes; 48 keyed): magic "FSRA", version (u32: 0, or 2
// keyed), consumed (u64: every record up to this number was read), zero
// (u64), CRC-32C of the 24 bytes before it, zero (u32); keyed, then a
// 16-byte LinkMac tag (the reader to the writer) over those 24 bytes and
// the stream (writer id and session, reader id and session), so a folder
// writer without the key cannot claim records were read. The writer reuses
// a slot only when the ack says its previous record was read.
//
// RingFile is one such file opened the way the folder's filesystem needs
// (RingIo, chosen from the FolderProfile by measurement: a held handle on
// FUSE serves stale pages, O_DIRECT does not): positional reads and writes
// that never follow a symlink and never block on a FIFO.
#ifndef FSTUN_TRANSPORTS_FS_RING_FILE_H_
#define FSTUN_TRANSPORTS_FS_RING_FILE_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/link_auth.h"
#include "sys/unique_fd.h"
#include "transports/fs/folder_profile.h"
#include "transports/fs/fs_io.h"

namespace fstun::fs {

inline constexpr char kRingSuffix[] = ".ring";
inline constexpr char kAckSuffix[] = ".ack";
inline constexpr size_t kRingHeaderBytes = 4096;
inline constexpr size_t kRingAlign = 4096;
inline constexpr size_t kRingAckBytes = 32;
inline constexpr size_t kRingAckTaggedBytes = 48;
inline constexpr uint32_t kRingMagic = 0x47525346;  // "FSRG"
inline constexpr uint32_t kAckMagic = 0x41525346;   // "FSRA"
// A reader refuses rings larger than this.
inline constexpr uint64_t kMaxRingBytes = uint64_t{1} << 30;

// How a file of the ring store is read (and written) on a filesystem.
struct RingIo {
  enum Kind {
    kHeld,    // one plain handle: the page cache is the other end's (one kernel)
    kDirect,  // one O_DIRECT handle: FUSE and network shares (pages are not cached)
    kReopen,  // a plain handle opened for every read (where O_DIRECT is refused)
  };
  constexpr RingIo(Kind k = kHeld) : kind(k) {}  // NOLINT: a Kind is a RingIo
  Kind kind;
  // Opening a file the other end has not created yet leaves a negative
  // lookup entry that can hide it once it exists (NFS until the folder's
  // attributes expire, SMB for a second): an open that finds nothing looks
  // again as the folder profile says (RevalidateName) before giving up.
  bool refresh_dir_attributes = false;
  bool lookup_without_intent = false;
  // Write a record as one contiguous aligned buffer rather than its
  // frames' iovecs: the Linux cifs, NFS and 9p clients' O_DIRECT writes
  // send one request per iovec segment (they pin the pages of one segment
  // at a time; NFS then adds a COMMIT), so a record of N frames cost ~2N
  // round trips to the server. FUSE (and virtiofs) fills one request.
  bool gather_writes = false;
  // NFS: write through a buffered handle and push each write to the
  // server with sync_file_range (one UNSTABLE WRITE, no COMMIT) instead of
  // O_DIRECT, which the Linux client sends as FILE_SYNC: the server
  // (nfs-ganesha) then syncs its disk for every record and every ack
  // (~3.4 ms each in the VM test bed, a third of a ping). The data is on
  // the server (visible to its other readers) when the write returns; only
  // its durability waits for the client's COMMIT (at writeback or close),
  // which a tunnel does not need. Reads stay O_DIRECT.
  bool buffered_writes = false;
  bool revalidates() const { return refresh_dir_attributes || lookup_without_intent; }
};
const char* RingIoName(RingIo io);
// kHeld where one kernel serves the folder to both ends (tmpfs, ext4, ...),
// kDirect on FUSE (bindfs, sshfs), virtiofs, 9p, NFS and SMB, kReopen on
// vboxsf and hgfs (stale pages on held handles; O_DIRECT unknown); with the
// profile's way past negative lookup entries (NFS, SMB), and buffered
// writes on NFS.
RingIo ChooseRingIo(const FolderProfile& profile);

struct RingGeometry {
  uint32_t max_record = 0;  // a multiple of kRingAlign
  uint64_t end = 0;         // the file's size
  // Where the record after one at `at` of `bytes` bytes starts.
  uint64_t Next(uint64_t at, size_t bytes) const {
    uint64_t next = at + (bytes + kRingAlign - 1) / kRingAlign * kRingAlign;
    return next + max_record > end ? kRingHeaderBytes : next;
  }
};
// Records of up to max_file_bytes; room for max_backlog_bytes of them (at
// least four of the largest).
RingGeometry RingGeometryFor(size_t max_file_bytes, size_t max_backlog_bytes);

struct RingHeader {
  RingGeometry geometry;
  uint64_t resync_seq = 1;
  uint64_t resync_at = kRingHeaderBytes;
};
void EncodeRingHeader(const RingHeader& h, uint8_t out[kRingHeaderBytes]);
// nullopt: not a ring header (yet), or a geometry no reader accepts.
std::optional<RingHeader> ParseRingHeader(absl::Span<const uint8_t> bytes);
// What a keyed ack's tag binds: the MAC of the writer/reader pair and the
// stream it acknowledges.
struct AckAuth {
  const LinkMac* mac = nullptr;
  absl::string_view writer_id;
  uint64_t writer_session = 0;
  absl::string_view reader_id;
  uint64_t reader_session = 0;
};
// Writes an ack into `out` (kRingAckTaggedBytes); returns its size: tagged
// (kRingAckTaggedBytes, by the reader) with `auth`, else kRingAckBytes.
size_t EncodeAck(uint64_t consumed, uint8_t* out, const AckAuth* auth = nullptr);
enum class AckError { kOk, kNotAck, kBadAuth };
// Parses an ack; with `auth` (the writer's check) only a tagged ack whose
// tag verifies is kOk (anything else well-formed is kBadAuth).
AckError ParseAck(absl::Span<const uint8_t> bytes, uint64_t* consumed,
                  const AckAuth* auth = nullptr);

// Memory aligned for O_DIRECT.
class AlignedBuffer {
 public:
  uint8_t* Reserve(size_t bytes);  // may discard the contents
  uint8_t* data() { return data_.get(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t capacity_ = 0;
};

// Creates the ring file `name` in `dirfd` whole: a temp file
// (".<name>.tmp.<16 random hex digits>", O_EXCL, never followed) is sized
// to header.geometry.end and given its header, then renamed to `name`. A
// reader never sees it smaller (FUSE caches a file's size for its
// attribute timeout, and an O_DIRECT read past a cached size returns
// nothing: a ring that grew after its first open stayed unreadable ~1 s).
absl::Status CreateRingFile(int dirfd, const std::string& name, const RingHeader& header,
                            const FolderAccess& access);

class RingFile {
 public:
  // Opens `name` in `dirfd` (not owned; must outlive this), a regular file
  // only. `create`: O_CREAT (0600, or 0660 and the group of `access`).
  absl::Status Open(int dirfd, const std::string& name, RingIo io, bool create, bool writable,
                    const FolderAccess& access = {});
  bool is_open() const { return open_; }
  void Close();
  RingIo io() const { return io_; }

  // Reads up to `n` bytes at `offset` (both multiples of kRingAlign) into
  // `buf` (kRingAlign-aligned). Returns the bytes read (0 past the end), or
  // -errno.
  ssize_t ReadAt(uint8_t* buf, size_t n, uint64_t offset);
  // Writes `iov` (`total` bytes) at `offset` (a multiple of kRingAlign).
  // With O_DIRECT the bytes may be padded with zeros to kRingAlign (always
  // where RingIo::gather_writes: one aligned buffer, one write). With
  // RingIo::buffered_writes the bytes are on the server when it returns
  // (sync_file_range: written back and waited for, not committed).
  absl::Status WriteAt(absl::Span<const iovec> iov, size_t total, uint64_t offset);
  // The file's size, or -errno.
  int64_t Size();
  // The held file's link count (0: removed or replaced under its name) and
  // its size into `size`, or
  // -errno (ESTALE: a network share's server removed it); -EBADF when no
  // handle is held (kReopen readers open the name every time).
  int64_t Links(int64_t* size = nullptr);
  // Grows the file to `bytes` if it is smaller (a sparse file where the
  // filesystem allows).
  absl::Status GrowTo(uint64_t bytes);
  // Gives the disk blocks of [from, to) back, keeping the size (reads
  // there see zeros). Best effort: false where the filesystem cannot.
  bool PunchHole(uint64_t from, uint64_t to);

 private:
  absl::Status Reopen(bool direct);
  // Writes through a buffered handle, pushed to the server (buffered_writes).
  bool pushed() const { return writable_ && io_.kind == RingIo::kDirect && io_.buffered_writes; }
  bool direct() const { return io_.kind == RingIo::kDirect && !pushed(); }
  absl::Status PushAt(absl::Span<const iovec> iov, size_t total, uint64_t offset);

  int dirfd_ = -1;
  std::string name_;
  RingIo io_ = RingIo::kHeld;
  bool writable_ = false;
  bool open_ = false;
  UniqueFd fd_;  // not held (kReopen, read-only): invalid between reads
  AlignedBuffer scratch_;
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_RING_FILE_H_
