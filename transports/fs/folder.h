// FsFolder: this peer's place in the shared folder, set up at start.
//
// Theory of operation: Open() checks the folder, creates DIR/peers,
// DIR/inbox and DIR/inbox/<me> when missing (owner-only, or shared with
// --fs_group), gives them to --user (the daemon drops root after set-up),
// empties the own inbox (nothing addressed to an earlier session may be
// delivered to this one) and makes this session's id (its start time, so a
// restart has a larger one, and random bits: folder.cc). It
// then holds the directory fds that every other part of the transport works
// relative to (openat family: a component swapped for a symlink after start
// cannot redirect us). Leave() removes what this peer owns: its
// announcement and its inbox.
#ifndef FSTUN_TRANSPORTS_FS_FOLDER_H_
#define FSTUN_TRANSPORTS_FS_FOLDER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/registry.h"
#include "sys/unique_fd.h"
#include "transports/fs/fs_io.h"

namespace fstun::fs {

class FsFolder {
 public:
  // `peer_id` must be valid (IsValidPeerId).
  static absl::StatusOr<std::unique_ptr<FsFolder>> Open(
      const std::string& dirpath, const std::string& peer_id, const FolderAccess& access,
      const std::optional<TransportConfig::FileOwner>& owner);
  ~FsFolder();
  FsFolder(const FsFolder&) = delete;
  FsFolder& operator=(const FsFolder&) = delete;

  const std::string& dirpath() const { return dirpath_; }
  const std::string& peer_id() const { return peer_id_; }
  const FolderAccess& access() const { return access_; }
  uint64_t session() const { return session_; }
  int root_fd() const { return root_fd_.get(); }
  int peers_fd() const { return peers_fd_.get(); }
  int inbox_root_fd() const { return inbox_root_fd_.get(); }
  int inbox_fd() const { return inbox_fd_.get(); }  // DIR/inbox/<me>
  // DIR/inbox/<me> as a path (for inotify).
  std::string inbox_path() const;

  // Opens DIR/inbox/<id>, another peer's inbox, as a directory without
  // following symlinks; -1 if it is not there (yet).
  int OpenPeerInbox(absl::string_view id) const;

  // Removes this peer's announcement and inbox (with its contents).
  void Leave();

 private:
  FsFolder(std::string dirpath, std::string peer_id, FolderAccess access, uint64_t session,
           UniqueFd root_fd, UniqueFd peers_fd, UniqueFd inbox_root_fd, UniqueFd inbox_fd);

  const std::string dirpath_;
  const std::string peer_id_;
  const FolderAccess access_;
  const uint64_t session_;
  const UniqueFd root_fd_;
  const UniqueFd peers_fd_;
  const UniqueFd inbox_root_fd_;
  const UniqueFd inbox_fd_;
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_FOLDER_H_
