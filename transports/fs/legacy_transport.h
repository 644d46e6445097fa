// LegacyFsTransport (--fs_format=legacy): the original demo's format, so
// fstun can replace one side while the other still runs the old script.
//
// One raw IP packet per file in the folder itself. File name: the sender's
// --ip value with every non-alphanumeric character replaced by '-', then
// '-', then the time in nanoseconds ("192-0-2-2-24-1732406400123456789").
// Written as '_' + name, then renamed. A reader takes every regular file
// whose name starts neither with its own prefix nor with '_', injects its
// content as one packet, and deletes it.
//
// Limits of the format (documented, not fixed): two peers only (a reader
// takes everything that is not its own); order only as good as the
// senders' clocks (files are delivered sorted by their time stamp); new
// files are found by listing the folder, which network shares cache (sshfs:
// ~20 s), so latency there is poor. What fstun adds: bounded backlog,
// size checks, no symlinks/FIFOs, owner-only files, inotify + polling.
#ifndef FSTUN_TRANSPORTS_FS_LEGACY_TRANSPORT_H_
#define FSTUN_TRANSPORTS_FS_LEGACY_TRANSPORT_H_

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/counters.h"
#include "core/transport.h"
#include "sys/unique_fd.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/wakeup.h"

namespace fstun::fs {

struct LegacyOptions {
  std::string dirpath;
  size_t mtu = 1500;
  std::string own_prefix;  // sanitized --ip value, e.g. "192-0-2-2-24"
  size_t max_backlog_bytes = 32 << 20;
  PacerOptions pacer;
  bool use_inotify = true;
};

class LegacyFsTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<LegacyFsTransport>> Create(LegacyOptions options);
  ~LegacyFsTransport() override;

  // The format has one peer: whoever else writes into the folder.
  static constexpr char kPeer[] = "legacy-peer";

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<WaitFd, 2> wait_fds() const override;
  SyscallNeeds syscalls() const override;
  absl::Duration poll_interval() const override;
  size_t mtu() const override { return options_.mtu; }
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  void Close() override;

 private:
  struct Written {
    uint64_t time_ns;
    size_t bytes;
  };

  LegacyFsTransport(LegacyOptions options, UniqueFd dir_fd, std::string fs_type);
  const char* NameFor(uint64_t time_ns, bool temp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reclaim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ListIncoming() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LegacyOptions options_;
  const UniqueFd dir_fd_;
  std::unique_ptr<FolderWatch> watch_;
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> interval_ns_{0};
  Counters counters_;

  mutable absl::Mutex mu_;
  WakeupPacer pacer_ ABSL_GUARDED_BY(mu_);
  std::string name_ ABSL_GUARDED_BY(mu_);  // reused name buffer
  uint64_t last_time_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Written> written_ ABSL_GUARDED_BY(mu_);
  size_t backlog_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> incoming_ ABSL_GUARDED_BY(mu_);  // sorted, from one listing
  size_t incoming_pos_ ABSL_GUARDED_BY(mu_) = 0;
  ByteBuffer buffer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_LEGACY_TRANSPORT_H_
