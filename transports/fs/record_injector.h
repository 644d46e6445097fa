// Record injection: what anyone with write access to an fs folder (but no
// key) can see and write, for tests of what the transport and the sealing
// layer above it let through. Test-only (testonly in BUILD): used by the
// folder_attacker tool of the keyed e2e test and by sealed_fs_test.
//
// Theory of operation: record file names show each stream's sender, both
// sessions and sequence numbers, and the record format's CRC-32C is no
// secret. So a writer can read the frames of records passing through an
// inbox (CaptureInbox) and write well-formed records under any sequence
// number of that stream (InjectRecord: temp file + rename, as a sender
// does). Only authentication above the transport stands in the way.
#ifndef FSTUN_TRANSPORTS_FS_RECORD_INJECTOR_H_
#define FSTUN_TRANSPORTS_FS_RECORD_INJECTOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace fstun::fs {

// A sender -> receiver stream as its file names show it.
struct VisibleStream {
  std::string inbox;  // DIR/inbox/<receiver>: where injected records go
  std::string sender;
  uint64_t sender_session = 0;
  uint64_t receiver_session = 0;
  uint64_t next_seq = 1;  // the number InjectRecord writes next
};

struct CapturedInbox {
  // The stream of the records read (the last one named), next_seq past the
  // highest sequence number seen; nullopt if no record could be read.
  std::optional<VisibleStream> stream;
  // Their frames longer than `min_frame_size`, in file-name order.
  std::vector<std::vector<uint8_t>> frames;
  int records = 0;
};

// Reads every well-formed record file in `dir` (an inbox, or a copy of its
// files) without removing it.
CapturedInbox CaptureInbox(const std::string& dir, size_t min_frame_size = 0);

// Writes `frames` as one well-formed record of stream `s` under
// s.next_seq into s.inbox, then advances s.next_seq.
absl::Status InjectRecord(VisibleStream& s, const std::vector<std::vector<uint8_t>>& frames);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_RECORD_INJECTOR_H_
