#include "transports/fs/inbox_collector.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "sys/log_escape.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun::fs {
namespace {

constexpr size_t kMaxIgnoredNames = 1024;
// Records this far beyond the next expected one are read and checked here
// (nearer ones are left to the reader).
constexpr uint64_t kFarAhead = 4096;

}  // namespace

void InboxCollector::Collect(PeerTable& peers, absl::Time now, Counters& counters) {
  const int inbox = folder_.inbox_fd();
  bool rescanned = false;
  for (const std::string& name : ListDir(inbox)) {
    if (name == kDoorbell || absl::StartsWith(name, kDoorbellTempPrefix)) continue;
    std::optional<InboxName> n = ParseInboxName(name);
    if (!n) {
      CountIgnoredName(name, counters);
      continue;
    }
    // The ring store's ack is this end's own note of how far it read: it
    // carries no frames, so removing an old one is tidying, not a drop.
    const bool own_ack = n->kind == InboxName::kAck;
    Peer* p = peers.Find(n->sender);
    if (p == nullptr) {
      std::string announcement = absl::StrCat(n->sender, kPeerSuffix);
      if (Exists(folder_.peers_fd(), announcement.c_str())) continue;  // not scanned yet
      if (RemoveEntry(inbox, name.c_str()) && !own_ack) counters.AddDrop("unknown_sender");
      continue;
    }
    if (n->sender_session != p->ann.session && n->receiver_session == folder_.session() &&
        !rescanned) {
      // Written to this session of ours by another session of the sender:
      // maybe it restarted and we have not read its new announcement yet.
      // Its new stream's first records must not go as stale (the reader
      // would then wait out a gap for record 1): look now, once per pass.
      rescanned = true;
      peers.Scan(now, counters);
      p = peers.Find(n->sender);
      if (p == nullptr) continue;  // left: the next pass removes its files
    }
    if (n->sender_session != p->ann.session || n->receiver_session != folder_.session()) {
      if (RemoveEntry(inbox, name.c_str()) && !own_ack) counters.AddDrop("stale_file");
      continue;
    }
    // Being written; or the ring store's files of a current stream.
    if (n->kind != InboxName::kRecord) continue;
    if (n->seq < p->in.next_seq()) {
      // Below the reader: wanted only right after a far jump (the jump may
      // have been to a planted record); otherwise it arrived after we
      // skipped it.
      if (p->in.WantsEarlierRecord(n->seq, now)) continue;
      // Keyed: only the sender's own record is a late one; anything else
      // there was written by someone without the key.
      const char* reason =
          in_.auth != nullptr && !Authentic(*p, name) ? "bad_record_auth" : "late_record";
      if (RemoveEntry(inbox, name.c_str())) counters.AddDrop(reason);
      continue;
    }
    if (n->seq == p->in.next_seq()) continue;  // the reader handles it
    // A record we have not reached yet. Junk under such a name would sit
    // there until the stream reaches it, so check what we cheaply can now.
    if (const char* junk = CheckFutureRecord(*p, name, n->seq)) {
      // What cannot be removed is left to the reader, which passes over it
      // when it gets there (counted then, once).
      if (RemoveEntry(inbox, name.c_str())) counters.AddDrop(junk);
      continue;
    }
    p->in.NoteLaterRecord(n->seq, now);
  }
}

const char* InboxCollector::CheckFutureRecord(const Peer& p, const std::string& name,
                                              uint64_t seq) const {
  const int inbox = folder_.inbox_fd();
  struct stat st;
  if (fstatat(inbox, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return nullptr;
  if (!S_ISREG(st.st_mode)) return "not_regular";
  if (static_cast<uint64_t>(st.st_size) > kMaxRecordBytes) return "oversize_file";
  // Farther ahead than any sender's backlog keeps it in practice: read it.
  if (seq <= p.in.next_seq() + kFarAhead) return nullptr;
  ByteBuffer buffer;
  ReadResult r = ReadRegularFile(inbox, name.c_str(), kMaxRecordBytes, buffer);
  if (r.outcome == ReadOutcome::kNotRegular) return "not_regular";
  if (r.outcome == ReadOutcome::kTooLarge) return "oversize_file";
  if (r.outcome != ReadOutcome::kOk) return nullptr;
  ParsedRecord record;
  RecordError e = ParseRecord(buffer.span(), mtu_, record);
  if (e != RecordError::kOk) return RecordErrorName(e);
  const RecordHeader& h = record.header;
  if (in_.auth != nullptr &&
      !VerifyRecord(record, RecordAuth{p.mac, in_.my_id, folder_.session()})) {
    return "bad_record_auth";
  }
  if (h.sender_id != p.id || h.session != p.ann.session || h.seq != seq) return "bad_header";
  return nullptr;
}

bool InboxCollector::Authentic(const Peer& p, const std::string& name) const {
  ByteBuffer buffer;
  if (ReadRegularFile(folder_.inbox_fd(), name.c_str(), kMaxRecordBytes, buffer).outcome !=
      ReadOutcome::kOk) {
    return false;
  }
  ParsedRecord record;
  return ParseRecord(buffer.span(), kMaxFrameSize, record) == RecordError::kOk &&
         VerifyRecord(record, RecordAuth{p.mac, in_.my_id, folder_.session()});
}

void InboxCollector::CountIgnoredName(const std::string& name, Counters& counters) {
  if (ignored_names_.size() >= kMaxIgnoredNames || !ignored_names_.insert(name).second) return;
  counters.AddDrop("ignored_name");
  LOG(WARNING) << "fs: ignoring '" << EscapeForLog(name) << "' in inbox " << folder_.peer_id()
               << " (not an fstun record name)";
}

}  // namespace fstun::fs
