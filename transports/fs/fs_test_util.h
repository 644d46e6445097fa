// Helpers for the fs transport's tests: a private folder under
// $TEST_TMPDIR, transports with test-friendly timings, tagged frames, and
// receiving with a deadline.
#ifndef FSTUN_TRANSPORTS_FS_FS_TEST_UTIL_H_
#define FSTUN_TRANSPORTS_FS_FS_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/routing_table.h"
#include "core/transport.h"
#include "transports/fs/fs_transport.h"

namespace fstun::fs::testing {

// A fresh directory, removed (recursively) on destruction.
class TempFolder {
 public:
  TempFolder();
  ~TempFolder();
  const std::string& path() const { return path_; }
  std::string inbox(const std::string& id) const { return path_ + "/inbox/" + id; }

 private:
  std::string path_;
};

// Options for a peer with the given address ("192.0.2.2/24") and role, and
// timings short enough for tests (heartbeat 50 ms, GC 100 ms, gap and bad
// file waits 200 ms).
FsTransportOptions TestOptions(const std::string& dir, const std::string& address,
                               const std::string& role = "");
std::unique_ptr<FsTransport> MakePeer(const FsTransportOptions& options);

// The routing table the core would keep for `t` (made, and attached as t's
// PeerObserver, on first use; a client's if `client`), one per transport
// instance (an fs transport by its session, so one made at a dead one's
// address gets its own). MakePeer attaches a fresh one.
RoutingTable& TableOf(Transport& t, bool client = false, bool fresh = false);
// Lets t do its periodic work (peer scan, heartbeat) without taking frames.
void Housekeep(Transport& t);
// Waits up to 2 s until t reported peer `id` to TableOf(t).
bool WaitForPeer(Transport& t, const std::string& id);

// The bytes of a well-formed record from `sender` numbered `seq` carrying
// `frame` (for tests that plant records in an inbox).
std::vector<uint8_t> RecordImage(const FsTransport& sender, uint64_t seq,
                                 const std::vector<uint8_t>& frame);
// Writes `bytes` to `path` (created or truncated).
void WriteFile(const std::string& path, absl::Span<const uint8_t> bytes);
void WriteFile(const std::string& path, absl::string_view bytes);

// A UDP frame from `src` to `dst` (bare addresses) carrying `tag`.
std::vector<uint8_t> Frame(const std::string& src, const std::string& dst, uint32_t tag,
                           size_t size = 200);
// Routes each frame by its destination through TableOf(t), as the pump
// does, and sends it to that peer; a frame without a route is sent to peer
// "" (the transport counts "no_route"). One Send call per frame (or per run
// of frames for one peer if `batch`).
void SendAll(Transport& t, const std::vector<std::vector<uint8_t>>& frames, bool batch = true);

// Receives until `count` frames came or `timeout` passed; also calls
// Receive on `others` meanwhile so their housekeeping (heartbeats) runs.
std::vector<std::vector<uint8_t>> ReceiveN(Transport& t, size_t count, absl::Duration timeout,
                                           std::vector<Transport*> others = {});
// Like ReceiveN, but sleeps between calls exactly as the pump does: in
// poll() on wait_fds() for up to poll_interval() (ReceiveN looks at least
// every 10 ms, which hides a wake-up the transport misses).
std::vector<std::vector<uint8_t>> ReceiveAsThePump(Transport& t, size_t count,
                                                   absl::Duration timeout);
// Runs every transport's Receive for `d` (heartbeats, scans, GC), returning
// nothing (frames received are dropped: use when none are expected).
void RunFor(std::vector<Transport*> ts, absl::Duration d);

// Tags of the frames (PacketBuilder::TagOf).
std::vector<int64_t> Tags(const std::vector<std::vector<uint8_t>>& frames);
// Regular files (names) in `dir`.
std::vector<std::string> FilesIn(const std::string& dir);
size_t BytesIn(const std::string& dir);
// Record files (*.rec) in `dir`.
std::vector<std::string> RecordsIn(const std::string& dir);

}  // namespace fstun::fs::testing

#endif  // FSTUN_TRANSPORTS_FS_FS_TEST_UTIL_H_
