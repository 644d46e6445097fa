// FolderProfile: what the filesystem under the shared folder needs for the
// other end's files to become visible, decided once at start.
//
// Theory of operation: Detect() reads the folder's mount from
// /proc/self/mountinfo (the entry with the longest mount point containing
// the folder: its type, e.g. "nfs4", "cifs", "9p", "virtiofs",
// "fuse.sshfs", and its options) and statfs's magic as a fallback (9p
// passes the host's type through: mountinfo is what tells 9p apart).
// Each filesystem's caches decide what the reader must do:
//   * NFS (lookupcache=all, the default) caches a failed lookup of the next
//     record's name until the folder's attributes expire (acdirmin, 30 s):
//     refresh the folder's attributes (statx AT_STATX_FORCE_SYNC, one
//     GETATTR) before looking again; a changed folder drops the cached
//     negative entries.
//   * SMB (cifs) keeps negative entries for 1 s whatever the folder does; a
//     lookup without open intent (fstatat AT_SYMLINK_NOFOLLOW |
//     AT_NO_AUTOMOUNT) drops them.
//   * 9p with cache=loose (or fscache: metadata cached, never revalidated)
//     shows neither new names nor new contents: no design can work, so
//     Create refuses with the remount advice.
//   * everything else (tmpfs, ext4, 9p cache=none/mmap, virtiofs, FUSE)
//     shows a new name opened directly.
// And what a record costs the reader: 9p with cache=none or mmap forgets a
// name at its file's last close, so the record's name is removed while the
// file is still open (the unlink then finds it cached: no walk, getattr and
// clunk again). Not on NFS, where removing an open file renames it
// (.nfsXXXX, "silly rename") and removes it at close: more requests.
// `remote`: whether another kernel serves the folder (by type; bindfs and
// other local FUSE views are not remote).
// Describe() is the one line logged at start.
#ifndef FSTUN_TRANSPORTS_FS_FOLDER_PROFILE_H_
#define FSTUN_TRANSPORTS_FS_FOLDER_PROFILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fstun::fs {

struct FolderProfile {
  std::string type;     // mountinfo type ("nfs4", "cifs", "9p", "fuse.sshfs", ...)
  std::string options;  // mount + super options, as mountinfo shows them
  std::string mount_point;
  // Before looking for a record again (and before skipping one as lost):
  bool refresh_dir_attributes = false;  // statx(dir, FORCE_SYNC)
  bool lookup_without_intent = false;   // fstatat(name, NOFOLLOW|NO_AUTOMOUNT)
  // Remove a record's name before closing the file read from it (9p).
  bool unlink_while_open = false;
  // Served by another kernel (a VM's host or a file server: 9p, virtiofs,
  // NFS, SMB, sshfs, vboxsf, VMware hgfs): every request this end makes is
  // a round trip, so records to and from it are coalesced (announced as
  // remote=1; OutboundStream).
  bool remote = false;
  // Why (for the log), empty if nothing is needed.
  std::string visibility_note;
  // Non-empty: this mount cannot work; the message says how to remount.
  std::string refusal;

  bool revalidates() const { return refresh_dir_attributes || lookup_without_intent; }
  std::string Describe() const;
};

// The profile of the folder `path` (open as `fd`). `mountinfo` overrides
// /proc/self/mountinfo's text (tests).
FolderProfile DetectFolderProfile(const std::string& path, int fd,
                                  const std::string* mountinfo = nullptr);

// Looks again for `name` in `dirfd` the way `profile` needs, after an open
// said it is missing. True if it may be there now (open it again).
bool RevalidateName(const FolderProfile& profile, int dirfd, const char* name);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_FOLDER_PROFILE_H_
