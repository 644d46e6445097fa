#include "transports/fs/folder.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "transports/fs/names.h"

namespace fstun::fs {
namespace {

// Removes every entry of `dirfd` (a previous session's leftovers).
size_t EmptyDirectory(int dirfd) {
  size_t removed = 0;
  for (const std::string& name : ListDir(dirfd)) removed += RemoveEntry(dirfd, name.c_str());
  return removed;
}

// The start time in microseconds, with 10 random bits below it: a later
// start has a larger session (keyed readers refuse an older session of a
// live peer: a replayed announcement or record cannot take it back), and
// two starts in one microsecond still differ. Good until 2255.
uint64_t NewSessionId() {
  // The random bits straight from the kernel: a user-space generator's
  // state would be shared by a forked child.
  uint16_t random = 0;
  if (getrandom(&random, sizeof(random), 0) != sizeof(random)) {
    random = static_cast<uint16_t>(getpid());
  }
  const uint64_t micros = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  return (micros << 10) | (random & 0x3ff);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FsFolder>> FsFolder::Open(
    const std::string& dirpath, const std::string& peer_id, const FolderAccess& access,
    const std::optional<TransportConfig::FileOwner>& owner) {
  UniqueFd root(open(dirpath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fs: cannot open folder '", dirpath, "': ", strerror(errno)));
  }
  absl::StatusOr<int> peers_fd = OpenOrCreateDir(root.get(), kPeersDir, access);
  if (!peers_fd.ok()) return peers_fd.status();
  UniqueFd peers(*peers_fd);
  absl::StatusOr<int> inbox_root_fd = OpenOrCreateDir(root.get(), kInboxDir, access);
  if (!inbox_root_fd.ok()) return inbox_root_fd.status();
  UniqueFd inbox_root(*inbox_root_fd);
  absl::StatusOr<int> inbox_fd = OpenOrCreateDir(inbox_root.get(), peer_id.c_str(), access);
  if (!inbox_fd.ok()) return inbox_fd.status();
  UniqueFd inbox(*inbox_fd);
  // With --user the daemon drops root after set-up: the folders it works in
  // become that user's now. (peers/ and inbox/ are shared with other peers;
  // they get the user too when this peer created them, i.e. owns them.)
  if (owner) {
    for (int fd : {peers.get(), inbox_root.get(), inbox.get()}) {
      struct stat st;
      if (fstat(fd, &st) != 0 || (st.st_uid != 0 && st.st_uid != owner->uid)) continue;
      if (fchown(fd, owner->uid, owner->gid) != 0) {
        return absl::PermissionDeniedError(absl::StrCat("fs: cannot give folders in '", dirpath,
                                                        "' to uid ", owner->uid,
                                                        " for --user: ", strerror(errno)));
      }
    }
  }
  // Anything in our inbox was addressed to an earlier session (or is a
  // crashed writer's temp): none of it may be delivered to this one.
  if (size_t removed = EmptyDirectory(inbox.get()); removed > 0) {
    LOG(INFO) << "fs: removed " << removed << " stale file(s) from inbox " << peer_id;
  }
  return std::unique_ptr<FsFolder>(new FsFolder(dirpath, peer_id, access, NewSessionId(),
                                                std::move(root), std::move(peers),
                                                std::move(inbox_root), std::move(inbox)));
}

FsFolder::FsFolder(std::string dirpath, std::string peer_id, FolderAccess access, uint64_t session,
                   UniqueFd root_fd, UniqueFd peers_fd, UniqueFd inbox_root_fd, UniqueFd inbox_fd)
    : dirpath_(std::move(dirpath)),
      peer_id_(std::move(peer_id)),
      access_(std::move(access)),
      session_(session),
      root_fd_(std::move(root_fd)),
      peers_fd_(std::move(peers_fd)),
      inbox_root_fd_(std::move(inbox_root_fd)),
      inbox_fd_(std::move(inbox_fd)) {}

FsFolder::~FsFolder() = default;

std::string FsFolder::inbox_path() const {
  return absl::StrCat(dirpath_, "/", kInboxDir, "/", peer_id_);
}

int FsFolder::OpenPeerInbox(absl::string_view id) const {
  std::string name(id);
  return openat(inbox_root_fd_.get(), name.c_str(),
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void FsFolder::Leave() {
  std::string announcement = absl::StrCat(peer_id_, kPeerSuffix);
  unlinkat(peers_fd_.get(), announcement.c_str(), 0);
  EmptyDirectory(inbox_fd_.get());
  unlinkat(inbox_root_fd_.get(), peer_id_.c_str(), AT_REMOVEDIR);
}

}  // namespace fstun::fs
