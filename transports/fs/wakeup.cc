#include "transports/fs/wakeup.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "glog/logging.h"

namespace fstun::fs {
namespace {

// Events counted as a new file: renamed in (how records arrive) or closed
// after writing (writers that create in place, like some legacy scripts).
constexpr uint32_t kWatchMask = IN_MOVED_TO | IN_CLOSE_WRITE;
// Record files per decision window (the first one is shorter).
constexpr int kWindow = 8;
constexpr int kFirstWindow = 4;
// Unused event credit is capped (events may also name files no stream reads).
constexpr int kMaxCredit = 4096;
constexpr int kOverflowCredit = 1 << 20;
// Where a look at the folder is a request over the network to a file
// server (mountinfo types): NFS and SMB servers answer every client's
// looks.
constexpr absl::string_view kFileServerTypes[] = {"nfs", "nfs4", "cifs", "smb3"};
// sshfs: each look is an SFTP round trip through ssh too, but to an sshd
// session that serves this one mount, not a server shared by many
// clients: a tunnel in use looks every 2 ms (a packet after a pause waits
// ~1.2 ms for the look instead of ~2.7 ms at 5 ms), and long idle and
// asleep it looks as rarely as on a file server (every 20 ms), where
// nobody waits.
constexpr absl::string_view kSshfs = "fuse.sshfs";

}  // namespace

PacerOptions ForFilesystem(PacerOptions o, absl::string_view fs_type) {
  if (o.poll_max != absl::ZeroDuration()) return o;
  if (fs_type == kSshfs) {
    o.poll_max = std::max(o.poll_min, absl::Milliseconds(2));
    o.deep_idle_min = std::max(o.deep_idle_min, absl::Milliseconds(20));
    return o;
  }
  bool server = false;
  for (absl::string_view t : kFileServerTypes) server |= fs_type == t;
  o.poll_max = std::max(o.poll_min, server ? absl::Milliseconds(5) : absl::Milliseconds(1));
  return o;
}

FolderWatch::FolderWatch(const std::string& path, bool use_inotify, bool also_modified)
    : mask_(kWatchMask | (also_modified ? IN_MODIFY : 0)) {
  epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) {
    PLOG(WARNING) << "fs: epoll_create1 failed; waking on close only, polling for data";
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, close_event_.fd(), &ev) != 0) {
    PLOG(WARNING) << "fs: epoll_ctl failed";
    epoll_fd_.reset();
    return;
  }
  if (!use_inotify) return;
  inotify_fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_fd_.valid()) {
    PLOG(WARNING) << "fs: inotify unavailable; polling only";
    return;
  }
  if (inotify_add_watch(inotify_fd_.get(), path.c_str(), mask_ | IN_ONLYDIR) < 0 ||
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, inotify_fd_.get(), &ev) != 0) {
    PLOG(WARNING) << "fs: cannot watch " << path << " with inotify; polling only";
    inotify_fd_.reset();
  }
}

FolderWatch::~FolderWatch() = default;

int FolderWatch::Drain(absl::FunctionRef<bool(absl::string_view)> counts) {
  if (!inotify_fd_.valid()) return 0;
  alignas(inotify_event) char buf[8192];
  int count = 0;
  while (true) {
    ssize_t n = read(inotify_fd_.get(), buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const inotify_event* e = reinterpret_cast<const inotify_event*>(buf + off);
      if (e->mask & IN_Q_OVERFLOW) {
        count = kOverflowCredit;
      } else if (e->len > 0 && (e->mask & mask_)) {
        if (counts(absl::string_view(e->name, strnlen(e->name, e->len)))) ++count;
      }
      off += sizeof(inotify_event) + e->len;
    }
    // A read that left room for another event emptied the queue.
    if (static_cast<size_t>(n) + sizeof(inotify_event) + NAME_MAX + 1 <= sizeof(buf)) break;
  }
  return std::min(count, kOverflowCredit);
}

WakeupPacer::WakeupPacer(PacerOptions options, std::string label, bool inotify_available)
    : options_(ForFilesystem(options, "")),
      label_(std::move(label)),
      inotify_available_(inotify_available),
      interval_(options.poll_min) {
  if (!inotify_available_) SetPath(Path::kPolling, "inotify is off or unavailable");
}

const char* WakeupPacer::path_name() const {
  switch (path_) {
    case Path::kDetecting:
      return "detecting";
    case Path::kInotify:
      return "inotify";
    case Path::kPolling:
      return "polling";
  }
  return "?";
}

void WakeupPacer::SetPath(Path p, const char* why) {
  if (p == path_) return;
  path_ = p;
  LOG(INFO) << "fs: wake-ups for " << label_ << " now via " << path_name() << " (" << why << ")";
}

void WakeupPacer::OnEvents(int n) {
  if (n <= 0) return;
  // Events are read in lumps (all pending at once) while the files they
  // name may be read over several calls: keep them as credit for the files.
  credit_ = std::min(credit_ + n, kMaxCredit);
  // Any event naming a new record shows that inotify sees the writers.
  if (path_ == Path::kDetecting) {
    SetPath(Path::kInotify, "inotify events announce new files");
    files_ = announced_ = 0;
  }
}

void WakeupPacer::OnRingEvents() {
  ring_events_ = true;
  // The records read since the last drain were written before this event.
  announced_ += owed_ring_;
  owed_ring_ = 0;
  if (path_ == Path::kDetecting) {
    SetPath(Path::kInotify, "inotify events announce new files");
    files_ = announced_ = 0;
  }
}

void WakeupPacer::OnFileFound(bool in_ring) {
  if (!inotify_available_) return;
  ++files_;
  if (in_ring && ring_events_) {
    ++announced_;
  } else if (credit_ > 0) {
    --credit_;
    ++announced_;
  } else if (in_ring) {
    ++owed_ring_;
  }
  // Its event may come with the next drain: decide then (OnDrained).
  if (owed_ring_ == 0) Decide();
}

void WakeupPacer::OnDrained() {
  owed_ring_ = 0;  // no ring event with this drain: another kernel wrote them
  if (inotify_available_) Decide();
}

void WakeupPacer::Decide() {
  if (path_ == Path::kDetecting) {
    if (files_ >= kFirstWindow && announced_ == 0) {
      SetPath(Path::kPolling, "files arrive that no inotify event announced");
      files_ = announced_ = 0;
    }
    return;
  }
  if (files_ < kWindow) return;
  if (announced_ >= files_ * 3 / 4) {
    SetPath(Path::kInotify, "files arrive with inotify events");
  } else if (announced_ <= files_ / 4) {
    SetPath(Path::kPolling, "files arrive that no inotify event announced");
  }
  files_ = 0;
  announced_ = 0;
}

void WakeupPacer::OnLook(absl::Duration cost) {
  // The median of the last looks: one look delayed by a busy moment does
  // not stretch the schedule, a share that answers slowly does.
  recent_looks_[next_look_] = cost;
  next_look_ = (next_look_ + 1) % recent_looks_.size();
  std::array<absl::Duration, kLooksKept> sorted = recent_looks_;
  std::nth_element(sorted.begin(), sorted.begin() + kLooksKept / 2, sorted.end());
  look_cost_ = sorted[kLooksKept / 2];
}

void WakeupPacer::Update(absl::Time now) {
  if (path_ == Path::kInotify) {
    interval_ = std::max(options_.poll_max, options_.inotify_safety_net);
    return;
  }
  const absl::Duration quiet = now - last_activity_;
  if (quiet <= options_.hot_window) {
    interval_ = options_.poll_min;
  } else {
    // In use: poll_max, whatever a look costs (a person waits for the
    // reply). Long idle: deep_idle_factor times poll_max or a look's cost,
    // whichever is more, so that where a look is slow an idle tunnel does
    // not keep this end, and the server, busy; and at least deep_idle_min,
    // so that where a look is fast a pause costs few looks. Asleep: at least
    // asleep_interval, so that where a look is fast an idle tunnel still
    // costs next to nothing.
    absl::Duration cap = options_.poll_max;
    if (quiet >= options_.deep_idle_after) {
      cap = std::max(std::max(options_.poll_max, look_cost_) * options_.deep_idle_factor,
                     options_.deep_idle_min);
      if (quiet >= options_.asleep_after) cap = std::max(cap, options_.asleep_interval);
    }
    interval_ = std::min(cap, interval_ * 2);
  }
}

}  // namespace fstun::fs
