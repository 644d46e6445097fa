#include "transports/fs/folder_profile.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "transports/fs/fs_io.h"

namespace fstun::fs {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        if (s[i + k] < '0' || s[i + k] > '7') {
          ok = false;
          break;
        }
        v = v * 8 + (s[i + k] - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool Contains(absl::string_view mount_point, absl::string_view path) {
  if (mount_point == "/") return true;
  return absl::StartsWith(path, mount_point) &&
         (path.size() == mount_point.size() || path[mount_point.size()] == '/');
}

// The value of option `key` in a comma-separated list, or "".
std::string Option(absl::string_view options, absl::string_view key) {
  for (absl::string_view o : absl::StrSplit(options, ',')) {
    if (absl::StartsWith(o, key) && o.size() > key.size() && o[key.size()] == '=') {
      return std::string(o.substr(key.size() + 1));
    }
  }
  return "";
}

bool HasOption(absl::string_view options, absl::string_view key) {
  for (absl::string_view o : absl::StrSplit(options, ',')) {
    if (o == key) return true;
  }
  return false;
}

// 9p caches metadata and never revalidates it in these modes. Kernels
// before 6.6 print the mode's name, later ones a bit mask (0x2: metadata).
bool NinePCachesMetadata(const std::string& cache) {
  if (cache == "loose" || cache == "fscache") return true;
  uint32_t bits = 0;
  absl::string_view hex = cache;
  if (absl::ConsumePrefix(&hex, "0x") && absl::SimpleHexAtoi(hex, &bits)) return bits & 0x2;
  if (!cache.empty() && absl::SimpleHexAtoi(cache, &bits)) return bits & 0x2;
  return false;
}

}  // namespace

std::string FolderProfile::Describe() const {
  std::string s = absl::StrCat(type.empty() ? "unknown filesystem" : type, " at ",
                               mount_point.empty() ? "?" : mount_point);
  if (!options.empty()) absl::StrAppend(&s, " (", options, ")");
  if (visibility_note.empty()) {
    absl::StrAppend(&s, ": new records are looked for by name");
  } else {
    absl::StrAppend(&s, ": ", visibility_note);
  }
  return s;
}

FolderProfile DetectFolderProfile(const std::string& path, int fd, const std::string* mountinfo) {
  FolderProfile p;
  char resolved[PATH_MAX];
  std::string real = realpath(path.c_str(), resolved) != nullptr ? resolved : path;
  std::string text;
  if (mountinfo != nullptr) {
    text = *mountinfo;
  } else {
    std::ifstream in("/proc/self/mountinfo");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  // id parent major:minor root mount_point mount_options [optional...] - type source super_options
  size_t best = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() < 10) continue;
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || dash + 2 >= f.size()) continue;
    std::string mp = Unescape(f[4]);
    if (!Contains(mp, real) || mp.size() < best) continue;
    best = mp.size();
    p.mount_point = mp;
    p.type = std::string(f[dash + 1]);
    p.options = absl::StrCat(f[5], dash + 3 < f.size() ? absl::StrCat(",", f[dash + 3]) : "");
  }
  if (p.type.empty()) p.type = FilesystemType(fd);
  const std::string& t = p.type;
  for (const char* remote : {"9p", "virtiofs", "nfs", "nfs4", "cifs", "smb3", "smb2", "smb",
                             "vboxsf", "fuse.sshfs", "fuse.vmhgfs-fuse"}) {
    if (t == remote) p.remote = true;
  }
  if (t == "nfs" || t == "nfs4") {
    const std::string lookupcache = Option(p.options, "lookupcache");
    if (lookupcache != "none" && lookupcache != "pos" && lookupcache != "positive") {
      p.refresh_dir_attributes = true;
      p.lookup_without_intent = true;
      p.visibility_note =
          "NFS caches failed lookups until the folder's attributes expire, so the inbox's "
          "attributes are refreshed before each look for a record (mount with "
          "lookupcache=positive to save that round trip)";
    }
  } else if (t == "cifs" || t == "smb3" || t == "smb2") {
    p.lookup_without_intent = true;
    p.visibility_note =
        "SMB caches failed lookups for 1 s, so each look for a record is a fresh lookup";
  } else if (t == "9p") {
    const std::string cache = Option(p.options, "cache");
    if (NinePCachesMetadata(cache) || HasOption(p.options, "loose") ||
        HasOption(p.options, "fscache")) {
      p.refusal = absl::StrCat(
          "fs: ", path, " is a 9p mount with cache=", cache.empty() ? "loose" : cache,
          ", which never revalidates names or contents: the other end's records would never "
          "be seen (100% loss). Remount it with cache=mmap or cache=none, e.g. "
          "'mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap <tag> ",
          p.mount_point.empty() ? path : p.mount_point, "'");
    } else {
      p.unlink_while_open = true;
    }
  }
  return p;
}

bool RevalidateName(const FolderProfile& profile, int dirfd, const char* name) {
  if (!profile.revalidates()) return false;
  if (profile.refresh_dir_attributes) {
    struct statx sx;
    statx(dirfd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_MTIME | STATX_CTIME, &sx);
  }
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0) return false;
  return true;
}

}  // namespace fstun::fs
