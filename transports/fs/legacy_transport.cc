#include "transports/fs/legacy_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/send_checks.h"
#include "glog/logging.h"

namespace fstun::fs {
namespace {

// The time stamp after the last '-', for ordering (0 if none).
uint64_t TimeOf(const std::string& name) {
  size_t dash = name.rfind('-');
  uint64_t t = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(name.substr(dash + 1), &t)) return 0;
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LegacyFsTransport>> LegacyFsTransport::Create(
    LegacyOptions options) {
  if (options.dirpath.empty()) {
    return absl::InvalidArgumentError("fs legacy: --dirpath is required (the shared folder)");
  }
  if (options.own_prefix.empty()) {
    return absl::InvalidArgumentError("fs legacy: --ip is required (it names our files)");
  }
  if (options.max_backlog_bytes < options.mtu) {
    return absl::InvalidArgumentError("fs legacy: --fs_max_backlog_bytes is below the MTU");
  }
  UniqueFd fd(open(options.dirpath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs legacy: cannot open folder '", options.dirpath, "': ", strerror(errno)));
  }
  std::string fs_type = FilesystemType(fd.get());
  LOG(INFO) << "fs legacy: files '" << options.own_prefix << "-<ns>' in " << options.dirpath << " ("
            << fs_type << ")";
  return std::unique_ptr<LegacyFsTransport>(
      new LegacyFsTransport(std::move(options), std::move(fd), fs_type));
}

LegacyFsTransport::LegacyFsTransport(LegacyOptions options, UniqueFd dir_fd, std::string fs_type)
    : options_(std::move(options)),
      dir_fd_(std::move(dir_fd)),
      watch_(std::make_unique<FolderWatch>(options_.dirpath, options_.use_inotify)),
      pacer_(ForFilesystem(options_.pacer, fs_type),
             absl::StrCat(options_.dirpath, " (", fs_type, ", legacy)"), watch_->has_inotify()) {
  name_.reserve(options_.own_prefix.size() + 32);
  interval_ns_.store(absl::ToInt64Nanoseconds(pacer_.interval()));
}

LegacyFsTransport::~LegacyFsTransport() { Close(); }

absl::Duration LegacyFsTransport::poll_interval() const {
  return absl::Nanoseconds(interval_ns_.load(std::memory_order_relaxed));
}

const char* LegacyFsTransport::NameFor(uint64_t time_ns, bool temp) {
  name_.clear();
  if (temp) name_.push_back('_');
  absl::StrAppend(&name_, options_.own_prefix, "-", time_ns);
  return name_.c_str();
}

void LegacyFsTransport::Reclaim() {
  while (!written_.empty()) {
    if (Exists(dir_fd_.get(), NameFor(written_.front().time_ns, false))) break;
    backlog_bytes_ -= written_.front().bytes;
    written_.pop_front();
  }
}

void LegacyFsTransport::SetPeerObserver(PeerObserver* observer) {
  PeerInfo peer;
  peer.id = kPeer;
  peer.mtu = options_.mtu;
  observer->PeerUp(peer);
}

absl::InlinedVector<WaitFd, 2> LegacyFsTransport::wait_fds() const {
  return {{watch_->fd(), POLLIN}};
}

SyscallNeeds LegacyFsTransport::syscalls() const {
  SyscallNeeds n;
  // One file per packet (WriteRecordFile, ReadRegularFile), listing
  // the folder, deleting what was read, inotify.
  n.syscalls = {"openat",          "open",      "read",       "pread64",       "write",
                "writev",          "pwritev",   "fstat",      "newfstatat",    "statx",
                "renameat",        "renameat2", "rename",     "unlinkat",      "unlink",
                "fchmod",          "fchown",    "getdents64", "inotify_init1", "inotify_add_watch",
                "inotify_rm_watch"};
  return n;
}

absl::StatusOr<size_t> LegacyFsTransport::Send(const PeerId& to,
                                               absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (FrameView f : frames) {
    if (!AcceptForSend(f, options_.mtu, false, counters_)) continue;
    if (to != kPeer) {
      counters_.AddDrop("no_route");
      continue;
    }
    if (backlog_bytes_ + f.size() > options_.max_backlog_bytes) Reclaim();
    if (backlog_bytes_ + f.size() > options_.max_backlog_bytes) {
      counters_.AddDrop("backlog_full");
      continue;
    }
    // Names must be unique and increasing even within one clock tick.
    uint64_t t = std::max<uint64_t>(absl::ToUnixNanos(absl::Now()), last_time_ns_ + 1);
    last_time_ns_ = t;
    std::string temp = NameFor(t, true);
    iovec iov{const_cast<uint8_t*>(f.data()), f.size()};
    // The format prescribes the temp name ("_" + name: the old script skips it).
    absl::Status s =
        WriteRecordFile(dir_fd_.get(), NameFor(t, false), {&iov, 1}, {}, nullptr, temp.c_str());
    if (!s.ok()) {
      counters_.AddDrop("write_error");
      LOG_EVERY_N(WARNING, 1000) << "fs legacy: " << s;
      continue;
    }
    written_.push_back({t, f.size()});
    backlog_bytes_ += f.size();
    counters_.AddTx(1, f.size());
  }
  pacer_.OnActivity(now);
  pacer_.Update(now);
  interval_ns_.store(absl::ToInt64Nanoseconds(pacer_.interval()));
  return frames.size();
}

void LegacyFsTransport::ListIncoming() {
  incoming_.clear();
  incoming_pos_ = 0;
  for (std::string& name : ListDir(dir_fd_.get())) {
    if (absl::StartsWith(name, options_.own_prefix) || absl::StartsWith(name, "_")) continue;
    incoming_.push_back(std::move(name));
  }
  std::sort(incoming_.begin(), incoming_.end(), [](const std::string& a, const std::string& b) {
    uint64_t ta = TimeOf(a), tb = TimeOf(b);
    return ta != tb ? ta < tb : a < b;
  });
}

absl::StatusOr<Transport::Received> LegacyFsTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  // Only the peer's files count, not our own writes into the same folder.
  pacer_.OnEvents(watch_->Drain([this](absl::string_view name) {
    return !absl::StartsWith(name, options_.own_prefix) && !absl::StartsWith(name, "_");
  }));
  if (incoming_pos_ >= incoming_.size()) ListIncoming();
  size_t delivered = 0;
  uint64_t bytes = 0;
  while (!batch.full() && incoming_pos_ < incoming_.size()) {
    const char* name = incoming_[incoming_pos_++].c_str();
    ReadResult r = ReadRegularFile(dir_fd_.get(), name, options_.mtu, buffer_);
    if (r.outcome == ReadOutcome::kTooLarge) {
      unlinkat(dir_fd_.get(), name, 0);
      counters_.AddDrop("oversize_file");
      continue;
    }
    // Directories, FIFOs, symlinks are not the format's: leave them alone.
    if (r.outcome != ReadOutcome::kOk) continue;
    unlinkat(dir_fd_.get(), name, 0);
    if (buffer_.size() == 0) {
      counters_.AddDrop("empty_file");
      continue;
    }
    batch.Append(buffer_.span());
    ++delivered;
    bytes += buffer_.size();
    pacer_.OnFileFound();
  }
  if (delivered > 0) {
    counters_.AddRx(delivered, bytes);
    pacer_.OnActivity(now);
  }
  pacer_.Update(now);
  bool more = incoming_pos_ < incoming_.size();
  interval_ns_.store(more ? 0 : absl::ToInt64Nanoseconds(pacer_.interval()));
  if (delivered == 0) return Received{};
  return Received{delivered, kPeer};
}

void LegacyFsTransport::Close() {
  if (closed_.exchange(true)) return;
  watch_->SignalClosed();
}

}  // namespace fstun::fs
