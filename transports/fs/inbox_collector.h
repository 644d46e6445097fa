// InboxCollector: garbage collection of the own inbox.
//
// Theory of operation: every --fs_gc_interval_ms (and soon after a peer
// restarted) Collect() lists DIR/inbox/<me> and removes records and temps
// whose sender is not announced (`unknown_sender`) or whose sessions are
// not the current pair (`stale_file`: an old incarnation's, or a crashed
// writer's temp), records below the stream's next number (they arrived
// after a skip: `late_record`; unless the stream wants them to undo a far
// jump), and junk under not-yet-reached record names (non-regular files,
// oversized files, and records far ahead that fail validation; junk that
// cannot be removed is left to the reader, which counts it once). A valid
// later record of a stream is reported to that stream's gap rule.
// A file from a sender session we do not know is only stale once a fresh
// scan of the announcements says so: it may be the first record of a
// restarted peer whose new announcement we have not read yet.
// Names outside the scheme are never opened: counted and logged once
// (`ignored_name`, escaped: the name is anyone's). A listing may be stale; nothing here is needed
// for traffic to flow, only for the folder to stay clean.
#ifndef FSTUN_TRANSPORTS_FS_INBOX_COLLECTOR_H_
#define FSTUN_TRANSPORTS_FS_INBOX_COLLECTOR_H_

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "transports/fs/folder.h"
#include "transports/fs/peer_table.h"

namespace fstun::fs {

class InboxCollector {
 public:
  // `in`: the inbound streams' configuration (its auth: keyed).
  InboxCollector(const FsFolder& folder, size_t mtu, const InboundConfig& in)
      : folder_(folder), mtu_(mtu), in_(in) {}

  void Collect(PeerTable& peers, absl::Time now, Counters& counters);

 private:
  // Why a not-yet-reached record file is junk (a drop reason), or nullptr
  // if it may be a real record.
  const char* CheckFutureRecord(const Peer& p, const std::string& name, uint64_t seq) const;
  void CountIgnoredName(const std::string& name, Counters& counters);
  // Keyed: the record file `name` verifies as `p`'s, written for us.
  bool Authentic(const Peer& p, const std::string& name) const;

  const FsFolder& folder_;
  const size_t mtu_;
  const InboundConfig& in_;
  absl::flat_hash_set<std::string> ignored_names_;
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_INBOX_COLLECTOR_H_
